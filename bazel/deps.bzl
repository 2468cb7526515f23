"""External repositories for the MQTT client library.

Two macros, for a consumer's WORKSPACE:

    load("@mqtt//bazel:deps.bzl", "mqtt_deps", "mqtt_offline_shims")
    mqtt_offline_shims()  # only on an offline Bazel without rules_cc/rules_java
    mqtt_deps()

Every repository is declared with maybe(), so one that the consumer declared
first under the same name (say its own "openssl") is kept.
"""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")

def _system_cc_library_impl(ctx):
    # Header folders are symlinked into the repository and exported through
    # `includes`, so they arrive as -isystem and our -Werror flags skip them.
    for dest, src in ctx.attr.include_dirs.items():
        ctx.symlink(src, "include/" + dest)
    ctx.file("BUILD", """
cc_library(
    name = "{name}",
    hdrs = glob(["include/**"]),
    includes = ["include"],
    linkopts = {linkopts},
    visibility = ["//visibility:public"],
)
""".format(name = ctx.attr.target, linkopts = repr(ctx.attr.linkopts)))

system_cc_library = repository_rule(
    implementation = _system_cc_library_impl,
    attrs = {
        "target": attr.string(mandatory = True),
        "include_dirs": attr.string_dict(),
        "linkopts": attr.string_list(),
    },
    local = True,
)

def mqtt_deps():
    """Declares the system libraries the library and its tests use."""
    maybe(
        system_cc_library,
        name = "openssl",
        target = "openssl",
        linkopts = ["-lssl", "-lcrypto"],
    )
    maybe(
        system_cc_library,
        name = "libwebsockets",
        target = "libwebsockets",
        linkopts = ["-lwebsockets"],
    )
    maybe(
        system_cc_library,
        name = "concurrentqueue",
        target = "concurrentqueue",
        include_dirs = {"concurrentqueue": "/usr/include/concurrentqueue"},
        linkopts = ["-lpthread"],
    )
    maybe(
        system_cc_library,
        name = "readerwriterqueue",
        target = "readerwriterqueue",
        include_dirs = {"readerwriterqueue": "/usr/include/readerwriterqueue"},
    )
    maybe(
        system_cc_library,
        name = "catch2",
        target = "catch2",
        include_dirs = {"catch2": "/usr/include/catch2"},
    )

    # Only the benchmarks use these, to compare against the established clients.
    maybe(
        system_cc_library,
        name = "libmosquitto",
        target = "libmosquitto",
        linkopts = ["-lmosquitto"],
    )
    maybe(
        system_cc_library,
        name = "paho_mqtt_c",
        target = "paho_mqtt_c",
        linkopts = ["-lpaho-mqtt3a"],
    )

def _rules_cc_shim_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"rules_cc\")\n")
    ctx.file("BUILD", "")
    ctx.file("cc/BUILD", """
alias(
    name = "toolchain_type",
    actual = "@bazel_tools//tools/cpp:toolchain_type",
    visibility = ["//visibility:public"],
)
""")
    ctx.file("cc/defs.bzl", """
cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
fdo_prefetch_hints = native.fdo_prefetch_hints
fdo_profile = native.fdo_profile
objc_library = native.objc_library
""")

_rules_cc_shim = repository_rule(implementation = _rules_cc_shim_impl)

def _coverage_tools_shim_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"remote_coverage_tools\")\n")
    ctx.file("lcov_merger.sh", "#!/bin/sh\nexit 0\n", executable = True)
    ctx.file("BUILD", """
filegroup(
    name = "coverage_report_generator",
    visibility = ["//visibility:public"],
)
sh_binary(
    name = "lcov_merger",
    srcs = ["lcov_merger.sh"],
    visibility = ["//visibility:public"],
)
""")

_coverage_tools_shim = repository_rule(implementation = _coverage_tools_shim_impl)

def mqtt_offline_shims():
    """Local stand-ins for repositories an offline Bazel 4.2.3 would download.

    Skip this macro in a workspace that already has real rules_cc and rules_java.
    """
    maybe(_rules_cc_shim, name = "rules_cc")
    maybe(
        native.local_repository,
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    maybe(_coverage_tools_shim, name = "remote_coverage_tools")
