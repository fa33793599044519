//! The `tenantgate` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    tenantgate::cli::main()
}
