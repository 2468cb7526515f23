# Sourced by the scripts in tools/ (and by the other tools/lib files): one EXIT
# trap that runs every registered clean-up, the last registered first.
#   on_exit COMMAND [ARGS...]
if [ -z "${_on_exit_loaded:-}" ]; then
  _on_exit_loaded=1
  _on_exit_commands=()
  _run_on_exit() {
    local i
    for ((i = ${#_on_exit_commands[@]} - 1; i >= 0; i--)); do
      eval "${_on_exit_commands[i]}" || true
    done
  }
  trap _run_on_exit EXIT
fi

on_exit() {
  _on_exit_commands+=("$*")
}
