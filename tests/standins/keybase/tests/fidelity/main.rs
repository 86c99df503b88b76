//! The stand-in's own fidelity: its APIs against keybase.md, and the rules of the service the
//! live relay relies on.

mod api;
mod relay_rules;
