//! The request loop shared by `chat api` and `team api` (keybase.md §1.1): a stream of JSON
//! values from stdin, `-m` or `-i`, one reply line each, until EOF.

use std::{
    fs::File,
    io::{self, BufReader, Read, Write},
    process::ExitCode,
};

use serde_json::Value;

use crate::{
    envelope::{self, Call, Fail},
    gojson,
    state::Home,
};

/// A method handler: the reply line, or how it failed.
pub type Handler = fn(&Home, &Call) -> Result<String, Fail>;

/// The flags of `chat api` / `team api`.
#[derive(Debug, Default)]
pub struct ApiFlags {
    message: Option<String>,
    infile: Option<String>,
    outfile: Option<String>,
    pretty: bool,
}

impl ApiFlags {
    /// Parses `[-p] [-m JSON] [-i FILE] [-o FILE]`.
    ///
    /// # Errors
    /// Unknown flags, positional arguments, `-m` with `-i`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut flags = Self::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("flag needs an argument: {name}"))
            };
            match arg.as_str() {
                "-p" | "--pretty" => flags.pretty = true,
                "-m" | "--message" => flags.message = Some(value(arg)?),
                "-i" | "--infile" => flags.infile = Some(value(arg)?),
                "-o" | "--outfile" => flags.outfile = Some(value(arg)?),
                a if a.starts_with('-') => {
                    return Err(format!("flag provided but not defined: {a}"));
                }
                _ => return Err("api takes no arguments".to_owned()),
            }
        }
        if flags.message.is_some() && flags.infile.is_some() {
            return Err("specify -m or -i, but not both".to_owned());
        }
        Ok(flags)
    }
}

/// Serves requests until the input ends; `cmd` names the log's source (`chat api`).
pub fn serve(home: &Home, cmd: &str, flags: &ApiFlags, handler: Handler) -> ExitCode {
    let input: Box<dyn Read> = match (&flags.message, &flags.infile) {
        (Some(m), _) => Box::new(io::Cursor::new(m.clone().into_bytes())),
        (None, Some(path)) => match File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return fail(&format!("cannot open {path}: {e}")),
        },
        (None, None) => Box::new(io::stdin()),
    };
    let mut output: Box<dyn Write> = match &flags.outfile {
        Some(path) => match File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => return fail(&format!("cannot create {path}: {e}")),
        },
        None => Box::new(io::stdout()),
    };
    let stream = serde_json::Deserializer::from_reader(BufReader::new(input)).into_iter::<Value>();
    for value in stream {
        let value = match value {
            Ok(v) => v,
            Err(e) if e.is_eof() => return fail("invalid JSON: expected more JSON in input"),
            Err(e) => return fail(&format!("invalid JSON: {e}")),
        };
        let call = match envelope::decode(value) {
            Ok(call) => call,
            Err(Fail::Abort(m) | Fail::Reply(m)) => return fail(&m),
        };
        home.log_request(cmd, &call.method, &call.options.json());
        let line = match handler(home, &call) {
            Ok(line) => line,
            Err(Fail::Reply(message)) => call.error(&message),
            Err(Fail::Abort(message)) => return fail(&message),
        };
        let line = if flags.pretty {
            gojson::reindent(&line)
        } else {
            line
        };
        if writeln!(output, "{line}")
            .and_then(|()| output.flush())
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// Prints an error the way the CLI does and gives the failing exit code.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("\u{25b6} ERROR {message}");
    ExitCode::from(1)
}
