//! Make a throwaway SoftHSM2 token for a demo or rehearsal and print the shell lines
//! that point byok at it:  softhsm-token DIR [LABEL]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("error: usage: softhsm-token DIR [LABEL]");
        return std::process::ExitCode::from(2);
    };
    let label = args.get(2).map(String::as_str).unwrap_or("byok-demo");
    match byok_testkit::softhsm::make_token(std::path::Path::new(dir), label) {
        Ok(t) => {
            print!("{}", t.exports());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
