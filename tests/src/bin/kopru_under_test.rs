//! The `kopru` command line, built inside the end-to-end test package.

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
