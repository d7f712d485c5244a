//! The log macros at compile time: the format string is checked by the
//! compiler's own `format_args!`, whose errors point at the call's tokens
//! (`tests/ui/*.rs`, with the expected errors beside them), and every form of
//! the format syntax expands to code that compiles and runs
//! (`tests/ui/pass/*.rs`).
//!
//! The expected errors are the compiler's text: after a toolchain update that
//! rewords them, regenerate them with `TRYBUILD=overwrite cargo test
//! --features macros --test macros_ui` and read the difference.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
