//! The `tenantgate` binary: everything lives in the library.

/// mimalloc: decisions allocate many small short-lived objects, which it
/// serves faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tenantgate::cli::main()
}
