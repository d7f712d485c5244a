//! Fuzz target `template`: any bytes, as a message template and the slots
//! of a macro event (the layout is in the docs of `fuzz_template`, in
//! `src/events/template.rs`): a `u16` length, that many bytes of template,
//! then slots, each a kind byte and its value.
//!
//! Rendering must give a message or an error that displays, never a panic,
//! a hang or more than 1 MiB of message; and the template check without
//! values must agree with rendering (a template it refuses does not render,
//! one it accepts fails only for its values).

#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    black_box(logring::events::fuzz_template(data));
});
