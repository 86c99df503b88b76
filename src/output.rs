//! Standard output of the commands' results (tables, reports, YAML, converted exports).
//!
//! Every command writes its stdout through here, never with `println!`: `println!` panics
//! (exit 101) when the reader has gone away, as in `kbbridge plan | head -1`. Here a closed
//! pipe ends the program quietly with exit code 0, as ripgrep and coreutils do: the reader
//! took what it wanted, so nothing failed. Any other write error (a full disk behind a
//! redirection) is returned to the command like any other error.

use std::io::{self, Write};

/// Standard output, locked while this value lives; a closed pipe ends the program quietly.
pub struct Stdout(io::StdoutLock<'static>);

/// Standard output for a command's results (see the module documentation).
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        exit_if_closed(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        exit_if_closed(self.0.flush())
    }
}

/// Ends the program with exit code 0 when `result` says the reader closed the pipe.
fn exit_if_closed<T>(result: io::Result<T>) -> io::Result<T> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

/// `print!` through [`stdout`]: an `io::Result<()>` to `?`, quiet on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        ::std::io::Write::write_fmt(&mut $crate::output::stdout(), format_args!($($arg)*))
    };
}

/// `println!` through [`stdout`]: an `io::Result<()>` to `?`, quiet on a closed pipe.
macro_rules! outln {
    () => {
        $crate::output::out!("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::out!("{}\n", format_args!($($arg)*))
    };
}

pub(crate) use {out, outln};
