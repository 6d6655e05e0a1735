//! The Runtime API (HAProxy's stats socket protocol).
//!
//! This crate does: the pure part of the API, with no I/O and no `engine` use:
//! [`split`] (HAProxy's CLI line protocol: requests, payloads, words), [`command`] (typed
//! commands with their canonical text and required level), [`parse()`] (text to
//! [`Command`], never panics, bounded work) and [`messages`] (HAProxy's answer texts, the
//! `help` listing and the unknown-command suggestions).
//!
//! It does not (yet): run commands against the engine's tables, or serve sockets.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod messages;
pub mod parse;
pub mod split;

pub use command::{Command, Level, Mode, Name, ServerRef, Weight, Word};
pub use parse::{parse, parse_parts, parse_request, ParseError, ParseErrorKind};
pub use split::{Feed, Request, Splitter};
