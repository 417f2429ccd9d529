//! Every integration test of the server and the `custos` binary, in one
//! test binary (one link, not one per file), a module per capability.
//! `./test.sh --test it evidence::exports` runs one module;
//! `docs/TESTS.md` maps the names tests had before they moved here.

mod common;

mod abuse;
mod access;
mod audit_walk;
mod axis;
mod axis_crash;
mod axis_encryption;
mod axis_hostile;
mod axis_joined;
mod axis_limits;
mod axis_places;
mod axis_recordings;
mod axis_redaction;
mod axis_signed;
mod axis_swift;
mod backends;
mod cli;
mod crash;
mod evidence;
mod fuzz_entries;
mod insiders;
mod insiders_accounts;
mod insiders_docks;
mod migration;
mod offload;
mod offload_faults;
mod schemathesis;
mod statistics;
mod web;
