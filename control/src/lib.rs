//! The Runtime API (HAProxy's stats socket protocol).
//!
//! This crate does: the pure part of the API, with no I/O and no `engine` use:
//! [`split`] (HAProxy's CLI line protocol: requests, payloads, words), [`command`] (typed
//! commands with their canonical text and required level), [`parse()`] (text to
//! [`Command`], never panics, bounded work) and [`messages`] (HAProxy's answer texts, the
//! `help` listing and the unknown-command suggestions); then [`exec`] (runs commands
//! against the engine's tables and maps), [`info`] and [`stat`] (the `show info` and
//! `show stat` formats) and [`listen`] (the stats sockets, served by one control thread).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod exec;
pub mod info;
pub mod listen;
pub mod messages;
pub mod parse;
pub mod split;
pub mod stat;

pub use command::{Command, Level, Mode, Name, ServerRef, Weight, Word};
pub use parse::{parse, parse_parts, parse_request, ParseError, ParseErrorKind};
pub use split::{Feed, Request, Splitter};
