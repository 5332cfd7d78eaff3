use std::process::ExitCode;

fn main() -> ExitCode {
    pzbench::cli::main()
}
