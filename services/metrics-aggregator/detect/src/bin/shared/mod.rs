//! What the evaluation commands share (included by each with `mod shared;`).

/// `println!` for reports that are often piped: when the reader has gone (`leiden-eval speed |
/// head -1`), the command ends quietly with success instead of panicking on the broken pipe.
macro_rules! report {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout(), $($argument)*) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("cannot write the report to stdout: {error}");
        }
    }};
}
pub(crate) use report;
