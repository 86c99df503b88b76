//! One module per subcommand.

pub mod backfill;
pub mod check;
pub mod convert;
pub mod demo;
pub mod export;
pub mod init;
pub mod inspect;
pub mod matrix_registration;
pub mod plan;
pub(crate) mod report;
pub mod run;
pub mod serve;
pub mod status;
pub mod verify;
