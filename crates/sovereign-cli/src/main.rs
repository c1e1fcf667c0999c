fn main() -> std::process::ExitCode {
    sovereign_cli::main()
}
