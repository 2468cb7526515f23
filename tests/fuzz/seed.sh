# The seed() helper of the fuzz corpus scripts (sourced; needs $out):
#   seed NAME CONFIG_BYTE HEX...   writes the bytes to $out/NAME
seed() {
  local name=$1 cfg=$2
  shift 2
  local hex
  hex=$(echo "$cfg $*" | tr -d ' \n')
  printf "$(echo "$hex" | sed 's/\(..\)/\\x\1/g')" >"$out/$name"
}
