//! `render` against `format!`: a grid of specs, each checked with many values
//! of every type that takes it (and the error for every type that does not);
//! widths and precisions from slots; templates with text, braces and several
//! placeholders; rustc's corner cases; malformed templates; missing slots;
//! the output bound; and totality on arbitrary templates and slots.

use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A slot's value, owned.
#[derive(Clone, Debug)]
enum Value {
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Bool(bool),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    Text(String),
}

impl Value {
    fn arg(&self) -> Arg<'_> {
        match self {
            Value::I8(v) => Arg::I8(*v),
            Value::I16(v) => Arg::I16(*v),
            Value::I32(v) => Arg::I32(*v),
            Value::I64(v) => Arg::I64(*v),
            Value::I128(v) => Arg::I128(*v),
            Value::U64(v) => Arg::U64(*v),
            Value::U128(v) => Arg::U128(*v),
            Value::F32(v) => Arg::F32(*v),
            Value::F64(v) => Arg::F64(*v),
            Value::Bool(v) => Arg::Bool(*v),
            Value::Char(v) => Arg::Char(*v),
            Value::Str(v) => Arg::Str(v),
            Value::Bytes(v) => Arg::Bytes(v),
            Value::Text(v) => Arg::Text(v),
        }
    }
}

/// Text written as it is whatever the spec, as a text slot renders.
struct Verbatim<'a>(&'a str);

macro_rules! verbatim {
    ($($trait:ident)*) => {$(
        impl fmt::$trait for Verbatim<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
    )*};
}
verbatim!(Display Debug LowerHex UpperHex Octal Binary LowerExp UpperExp Pointer);

/// Integers: the whole range, and small ones (where widths show).
macro_rules! ints {
    ($name:ident, $int:ident, $small:expr) => {
        fn $name() -> impl Strategy<Value = $int> {
            prop_oneof![any::<$int>(), $small]
        }
    };
}
ints!(i8s, i8, -100i8..=100);
ints!(i16s, i16, -300i16..=300);
ints!(i32s, i32, -300i32..=300);
ints!(i64s, i64, -300i64..=300);
ints!(i128s, i128, -300i128..=300);
ints!(u64s, u64, 0u64..=300);
ints!(u128s, u128, 0u128..=300);

macro_rules! floats {
    ($name:ident, $f:ident) => {
        /// Floats of every class, the special ones often.
        fn $name() -> impl Strategy<Value = $f> {
            prop_oneof![
                3 => any::<$f>(),
                2 => select(vec![
                    0.0, -0.0, $f::NAN, -$f::NAN, $f::INFINITY, $f::NEG_INFINITY,
                    $f::MIN_POSITIVE, $f::MIN_POSITIVE / 2.0, -$f::MIN_POSITIVE / 3.0,
                    $f::from_bits(1), $f::MAX, $f::MIN, $f::EPSILON, 1e-5, 1e-4, 1e15,
                    1e16, 0.1, 0.5, 1.5, 2.5, -2.5, 9.995, 0.125, 123456.75, 1.0,
                ]),
                2 => (-1e6 as $f..1e6 as $f),
                1 => any::<i16>().prop_map(|i| $f::from(i)),
            ]
        }
    };
}
floats!(f32s, f32);
floats!(f64s, f64);

/// Characters that escape, combine, or take more than one byte.
const SPECIAL_CHARS: &[char] = &[
    '"',
    '\'',
    '\\',
    '\n',
    '\r',
    '\t',
    '\0',
    '\u{7}',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{a0}',
    'é',
    '→',
    '\u{301}',
    '\u{200b}',
    '\u{200d}',
    '\u{feff}',
    '\u{fffd}',
    '\u{e000}',
    '\u{10ffff}',
    '😀',
    'a',
    'Z',
    ' ',
    '{',
    '}',
    '$',
    '0',
];

fn chars() -> impl Strategy<Value = char> {
    prop_oneof![any::<char>(), select(SPECIAL_CHARS)]
}

fn strings() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        vec(chars(), 0..12).prop_map(String::from_iter),
        "[a-z ]{0,12}",
    ]
}

/// A value of any slot type.
fn values() -> impl Strategy<Value = Value> {
    prop_oneof![
        i8s().prop_map(Value::I8),
        i16s().prop_map(Value::I16),
        i32s().prop_map(Value::I32),
        i64s().prop_map(Value::I64),
        i128s().prop_map(Value::I128),
        u64s().prop_map(Value::U64),
        u128s().prop_map(Value::U128),
        f32s().prop_map(Value::F32),
        f64s().prop_map(Value::F64),
        any::<bool>().prop_map(Value::Bool),
        chars().prop_map(Value::Char),
        strings().prop_map(Value::Str),
        vec(any::<u8>(), 0..10).prop_map(Value::Bytes),
        strings().prop_map(Value::Text),
    ]
}

// ---------------------------------------------------------------------------
// The grid: render against format!
// ---------------------------------------------------------------------------

/// What `format!(concat!("{0:", $spec, "}", $suffix), value[, width,
/// precision])` prints, for a value of a type of the category (a text
/// value: its text); `None` for a value of any other type.
macro_rules! expected {
    (display $($rest:tt)*) => {
        expected!(@types [I8 I16 I32 I64 I128 U64 U128 F32 F64 Bool Char Str] $($rest)*)
    };
    (debug $($rest:tt)*) => {
        expected!(@types [I8 I16 I32 I64 I128 U64 U128 F32 F64 Bool Char Str Bytes] $($rest)*)
    };
    (radix $($rest:tt)*) => {
        expected!(@types [I8 I16 I32 I64 I128 U64 U128] $($rest)*)
    };
    (exp $($rest:tt)*) => {
        expected!(@types [I8 I16 I32 I64 I128 U64 U128 F32 F64] $($rest)*)
    };
    (@types [$($ty:ident)*] $value:expr, $spec:literal, $suffix:literal) => {
        match $value {
            $(Value::$ty(v) => Some(format!(concat!("{0:", $spec, "}", $suffix), v)),)*
            Value::Text(text) => Some(format!(concat!("{0:", $spec, "}", $suffix), Verbatim(text))),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    };
    (@types [$($ty:ident)*] $value:expr, $spec:literal, $suffix:literal, $width:expr, $precision:expr) => {
        match $value {
            $(Value::$ty(v) => Some(format!(
                concat!("{0:", $spec, "}", $suffix), v, $width, $precision
            )),)*
            Value::Text(text) => Some(format!(
                concat!("{0:", $spec, "}", $suffix), Verbatim(text), $width, $precision
            )),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    };
}

/// Renders `template` with `slots`: `expected` (what `format!` printed), or
/// for `None` the error that the value cannot take the type.
fn assert_renders(
    template: &str,
    slots: &[Option<Arg<'_>>],
    expected: Option<String>,
) -> Result<(), TestCaseError> {
    let mut out = String::new();
    let result = render(template, slots, &mut out);
    match expected {
        Some(expected) => {
            prop_assert_eq!(result, Ok(()), "{} with {:?}", template, slots);
            prop_assert_eq!(out, expected, "{} with {:?}", template, slots);
        }
        None => prop_assert!(
            matches!(result, Err(TemplateError::WrongType { slot: 0, .. })),
            "{} with {:?}: {:?}",
            template,
            slots,
            result
        ),
    }
    Ok(())
}

/// For each spec, a test: `{0:SPEC}` rendered with values of every type
/// equals `format!("{0:SPEC}")` of the same Rust value, for the types of the
/// category; every other type is refused.
macro_rules! grid {
    ($category:ident: $($name:ident $spec:literal,)*) => {$(
        proptest! {
            #[test]
            fn $name(values in vec(values(), 1..12)) {
                for value in &values {
                    let expected = expected!($category value, $spec, "");
                    assert_renders(concat!("{0:", $spec, "}"), &[Some(value.arg())], expected)?;
                }
            }
        }
    )*};
}

grid!(display:
    display_plain "",
    display_width "5",
    display_left "<5",
    display_center "^7",
    display_right ">9",
    display_fill_star "*^9",
    display_plus "+",
    display_plus_zero "+05",
    display_zero_precision "08.3",
    display_precision_0 ".0",
    display_precision_3 ".3",
    display_minus "-",
    display_minus_zero "-08",
    display_zero_alone "0",
    display_zero_width "010",
    display_zero_fill "0<5",
    display_zero_and_align "<05",
    display_zero_center "^+08.1",
    display_alternate "#",
    display_alternate_width "#>12.4",
    display_fill_e_acute "é^9",
    display_fill_arrow "→<7",
    display_fill_arrow_flags "→>+12.2",
    display_fill_close_brace "}>6",
    display_fill_open_brace "{<6",
    display_fill_align_char "<<6",
    display_fill_zero_right "0>6",
    display_fill_newline "\n^5",
    display_dot_alone ".",
    display_wide "40",
    display_precision_wide ".30",
);

grid!(debug:
    debug_plain "?",
    debug_pretty "#?",
    debug_width "5?",
    debug_lower_hex "x?",
    debug_upper_hex "X?",
    debug_pretty_lower_hex "#x?",
    debug_pretty_upper_hex "#X?",
    debug_zero "010?",
    debug_plus "+?",
    debug_center "^9?",
    debug_fill_arrow "→^9?",
    debug_precision ".3?",
    debug_precision_0 ".0?",
    debug_pretty_zero_hex "#010x?",
    debug_everything "+#08.2?",
    debug_fill_upper_hex "é<6X?",
    debug_minus "-?",
    debug_zero_alone "0?",
    debug_pretty_fill_newline "\n>#4?",
    debug_pretty_width "#>7?",
);

grid!(radix:
    radix_lower_hex "x",
    radix_upper_hex "X",
    radix_octal "o",
    radix_binary "b",
    radix_alternate_hex "#x",
    radix_alternate_zero_hex "#010x",
    radix_alternate_binary "#b",
    radix_alternate_zero_binary "#010b",
    radix_center_alternate "^#12x",
    radix_plus_alternate "+#x",
    radix_zero_octal "08o",
    radix_fill_upper "é>12X",
    radix_fill_binary "→^#14b",
    radix_precision ".3x",
    radix_plus_zero_binary "+08b",
    radix_left_octal "<#7o",
    radix_zero_left "<#010X",
);

grid!(exp:
    exp_lower "e",
    exp_upper "E",
    exp_plus_precision "+.2e",
    exp_precision_0 ".0e",
    exp_precision_upper ".5E",
    exp_zero "012e",
    exp_everything "+#012.3E",
    exp_fill "→^15e",
    exp_left "<10.1e",
    exp_precision_wide ".20e",
    exp_minus_zero "-09.1e",
);

/// For each spec with `1$` (width) and `2$` (precision): the template
/// `{0:SPEC}|{1}|{2}` rendered with a value and the two counts as slots
/// equals `format!` of it with the same value and counts.
macro_rules! grid_counts {
    ($category:ident: $($name:ident $spec:literal,)*) => {$(
        proptest! {
            #[test]
            fn $name(values in vec(values(), 1..8), width in 0usize..40, precision in 0usize..25) {
                for value in &values {
                    let expected = expected!($category value, $spec, "|{1}|{2}", width, precision);
                    let slots = [
                        Some(value.arg()),
                        Some(Arg::U64(width as u64)),
                        Some(Arg::U64(precision as u64)),
                    ];
                    assert_renders(concat!("{0:", $spec, "}|{1}|{2}"), &slots, expected)?;
                }
            }
        }
    )*};
}

grid_counts!(display:
    counts_width "1$",
    counts_left "<1$",
    counts_center_both "^1$.2$",
    counts_precision ".2$",
    counts_plus_zero_both "+01$.2$",
    counts_fill "é>1$",
    counts_right_both ">1$.2$",
    counts_zero_fill "0<1$",
    counts_fill_arrow_both "→^+1$.2$",
);

grid_counts!(debug:
    counts_debug_both "1$.2$?",
    counts_debug_pretty_hex "#1$x?",
    counts_debug_fill "→^1$?",
    counts_debug_zero_upper "01$X?",
);

grid_counts!(radix:
    counts_radix_zero_hex "#01$x",
    counts_radix_fill_binary "→<1$b",
    counts_radix_octal_both "+1$.2$o",
    counts_radix_everything "^+#01$.2$X",
);

grid_counts!(exp:
    counts_exp_both "1$.2$e",
    counts_exp_plus_zero "+01$.2$E",
    counts_exp_precision ".2$e",
    counts_exp_fill "é^1$.2$e",
);

/// Renders `template` with `slots`, expecting success.
fn rendered(template: &str, slots: &[Option<Arg<'_>>]) -> String {
    let mut out = String::new();
    render(template, slots, &mut out).unwrap_or_else(|e| panic!("{template}: {e}"));
    out
}

#[test]
fn width_from_the_value_slot_itself() {
    // `0$` is the width from slot 0, not the `0` flag; `00$` is both.
    for n in [0usize, 3, 7, 12] {
        let slots = [Some(Arg::U64(n as u64))];
        assert_eq!(rendered("{0:0$}", &slots), format!("{0:0$}", n));
        assert_eq!(rendered("{0:00$}", &slots), format!("{0:00$}", n));
        assert_eq!(rendered("{0:<0$}", &slots), format!("{0:<0$}", n));
        assert_eq!(
            rendered("{0:.0$}|{0:#0$x}", &slots),
            format!("{0:.0$}|{0:#0$x}", n)
        );
    }
}

#[test]
fn counts_from_slots_of_every_integer_type() {
    let value = Some(Arg::F64(2.71875));
    let counts = [
        Arg::I8(9),
        Arg::I16(9),
        Arg::I32(9),
        Arg::I64(9),
        Arg::I128(9),
        Arg::U64(9),
        Arg::U128(9),
    ];
    for count in counts {
        assert_eq!(
            rendered("{0:>1$.1$}", &[value, Some(count)]),
            format!("{0:>1$.1$}", 2.71875, 9)
        );
    }
    let max = Some(Arg::U64(u16::MAX.into()));
    assert_eq!(
        rendered("{0:1$}", &[Some(Arg::Char('x')), max]),
        format!("{0:1$}", 'x', 65535)
    );
}

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

#[test]
fn literal_text_braces_and_several_placeholders() {
    let slots = [
        Some(Arg::U64(42)),
        Some(Arg::F64(101.25)),
        Some(Arg::Str("ab\"c")),
    ];
    let check = |template: &str, expected: String| assert_eq!(rendered(template, &slots), expected);
    check("", String::new());
    check("no placeholder", "no placeholder".into());
    check("é→ü", "é→ü".into());
    check(
        "order {0} filled at {1:>8.2}",
        format!("order {0} filled at {1:>8.2}", 42u64, 101.25),
    );
    check("{{}} {{{0}}} }}{{", format!("{{}} {{{0}}} }}{{", 42u64));
    check("{{0}}", "{0}".into());
    check(
        "{0}{0}{0:x}{1}{1:e}{0:#b}",
        format!("{0}{0}{0:x}{1}{1:e}{0:#b}", 42u64, 101.25),
    );
    check(
        "{2} {2:?} {2:>8} {0} é{1:?}→",
        format!("{2} {2:?} {2:>8} {0} é{1:?}→", 42u64, 101.25, "ab\"c"),
    );
    check(
        "{2:.1}{{{0}{1}",
        format!("{2:.1}{{{0}{1}", 42u64, 101.25, "ab\"c"),
    );
}

#[test]
fn rustc_corner_cases() {
    // Every template here is one `format!` accepts; each renders as it does.
    let v = 42i32;
    let slots = [Some(Arg::I32(v))];
    let cases: &[(&str, String)] = &[
        ("{0 }", format!("{0 }", v)),
        ("{0 :x}", format!("{0 :x}", v)),
        ("{0:x }", format!("{0:x }", v)),
        ("{0\n:\n>5\n}", format!("{0\n:\n>5\n}", v)),
        ("{0\t}", format!("{0\t}", v)),
        ("{0:}", format!("{0:}", v)),
        ("{0:.}", format!("{0:.}", v)),
        ("{0:.x}", format!("{0:.x}", v)),
        ("{0:}>5}", format!("{0:}>5}", v)),
        ("{0:{<5}", format!("{0:{<5}", v)),
        ("{0:}<5}}}", format!("{0:}<5}}}", v)),
        ("{00}", format!("{00}", v)),
        ("{000:x}", format!("{000:x}", v)),
        ("{0:0}", format!("{0:0}", v)),
        ("{0:00}", format!("{0:00}", v)),
        ("{0:005}", format!("{0:005}", v)),
        ("{0:<<5}", format!("{0:<<5}", v)),
        ("{0:^^5}", format!("{0:^^5}", v)),
        ("{0:>>5}", format!("{0:>>5}", v)),
        ("{0:0>5}", format!("{0:0>5}", v)),
        ("{0:+>5}", format!("{0:+>5}", v)),
        ("{0:#>5}", format!("{0:#>5}", v)),
        ("{0:0^+#09x}", format!("{0:0^+#09x}", v)),
        ("{0:.0005}", format!("{0:.0005}", v)),
        ("{0:05.}", format!("{0:05.}", v)),
        ("{0:+.e}", format!("{0:+.e}", v)),
        ("{0:65535}", format!("{0:65535}", v)),
        ("{0:.65535}", format!("{0:.65535}", v)),
        ("{0:\u{0}>3}", format!("{0:\u{0}>3}", v)),
        ("{0:😀^7}", format!("{0:😀^7}", v)),
    ];
    for (template, expected) in cases {
        assert_eq!(&rendered(template, &slots), expected, "{template:?}");
        assert_eq!(check(template, 1), Ok(()), "{template:?}");
    }
}

#[test]
fn malformed_templates_are_errors() {
    // Each is refused by rustc (or names an argument, which a template
    // cannot), and here: by `check` and by `render`, with the same error.
    let cases: &[(&str, TemplateError)] = &[
        ("{", TemplateError::Unclosed { at: 0 }),
        ("ab{0", TemplateError::Unclosed { at: 2 }),
        ("{0:", TemplateError::Unclosed { at: 0 }),
        ("{0:x", TemplateError::Unclosed { at: 0 }),
        ("{0:>", TemplateError::Unclosed { at: 0 }),
        ("}", TemplateError::UnmatchedClose { at: 0 }),
        ("a}b", TemplateError::UnmatchedClose { at: 1 }),
        ("{0}}", TemplateError::UnmatchedClose { at: 3 }),
        ("é}", TemplateError::UnmatchedClose { at: 2 }),
        ("{}", TemplateError::Implicit { at: 0 }),
        ("{ }", TemplateError::Implicit { at: 0 }),
        ("{:x}", TemplateError::Implicit { at: 0 }),
        ("x{ 0}", TemplateError::Implicit { at: 1 }),
        ("{0:.*}", TemplateError::Implicit { at: 4 }),
        ("{name}", TemplateError::Named { at: 1 }),
        ("{_}", TemplateError::Named { at: 1 }),
        ("{0:w$}", TemplateError::Named { at: 3 }),
        ("{0:.p$}", TemplateError::Named { at: 4 }),
        ("{0:>x$}", TemplateError::Named { at: 4 }),
        ("{0:y}", TemplateError::UnknownType { at: 3 }),
        ("{0:ex}", TemplateError::UnknownType { at: 3 }),
        ("{0:_}", TemplateError::UnknownType { at: 3 }),
        ("{0:é}", TemplateError::UnknownType { at: 3 }),
        ("{0:?x}", TemplateError::Unexpected { at: 4, found: 'x' }),
        ("{0:?#}", TemplateError::Unexpected { at: 4, found: '#' }),
        ("{0:x?x}", TemplateError::Unexpected { at: 5, found: 'x' }),
        ("{0:e?}", TemplateError::Unexpected { at: 4, found: '?' }),
        ("{0:xx}", TemplateError::Unexpected { at: 4, found: 'x' }),
        ("{0:5#}", TemplateError::Unexpected { at: 4, found: '#' }),
        ("{0:#+5}", TemplateError::Unexpected { at: 4, found: '+' }),
        ("{0:+-5}", TemplateError::Unexpected { at: 4, found: '-' }),
        (
            "{0:05.3.2}",
            TemplateError::Unexpected { at: 7, found: '.' },
        ),
        ("{0:$}", TemplateError::Unexpected { at: 3, found: '$' }),
        ("{0:.$}", TemplateError::Unexpected { at: 4, found: '$' }),
        ("{0:1$$}", TemplateError::Unexpected { at: 5, found: '$' }),
        ("{0:<5<}", TemplateError::Unexpected { at: 5, found: '<' }),
        ("{0:5 x}", TemplateError::Unexpected { at: 5, found: 'x' }),
        ("{0: x}", TemplateError::Unexpected { at: 4, found: 'x' }),
        ("{0x}", TemplateError::Unexpected { at: 2, found: 'x' }),
        ("{0=}", TemplateError::Unexpected { at: 2, found: '=' }),
        ("{0,5}", TemplateError::Unexpected { at: 2, found: ',' }),
        ("{0:x }x}", TemplateError::UnmatchedClose { at: 7 }),
        ("{65536}", TemplateError::TooLarge { at: 1 }),
        ("{99999999999999999999}", TemplateError::TooLarge { at: 1 }),
        ("{0:65536}", TemplateError::TooLarge { at: 3 }),
        ("{0:.65536}", TemplateError::TooLarge { at: 4 }),
        ("{0:65536$}", TemplateError::TooLarge { at: 3 }),
        ("{0:0065536}", TemplateError::TooLarge { at: 4 }),
    ];
    let slots = [Some(Arg::I32(7)), Some(Arg::U64(3))];
    for &(template, error) in cases {
        assert_eq!(check(template, 2), Err(error), "{template:?}");
        let mut out = String::new();
        assert_eq!(
            render(template, &slots, &mut out),
            Err(error),
            "{template:?}"
        );
        assert!(!error.to_string().is_empty());
    }
    // An error after a placeholder that rendered: what came before stays.
    let mut out = String::new();
    assert_eq!(
        render("a{0}b{", &slots, &mut out),
        Err(TemplateError::Unclosed { at: 5 })
    );
    assert_eq!(out, "a7b");
}

#[test]
fn slots_out_of_range() {
    let slots = [Some(Arg::I32(7)), Some(Arg::U64(3))];
    let cases: &[(&str, usize)] = &[
        ("{2}", 2),
        ("{0:3$}", 3),
        ("{0:.2$}", 2),
        ("x {1:>1$.9$}", 9),
        ("{65535}", 65535),
    ];
    for &(template, slot) in cases {
        let at = template.find('{').unwrap_or(0);
        let error = TemplateError::NoSlot { at, slot, slots: 2 };
        assert_eq!(check(template, 2), Err(error), "{template:?}");
        assert_eq!(render(template, &slots, &mut String::new()), Err(error));
    }
    assert_eq!(check("{1:>1$.0$}", 2), Ok(()));
    assert_eq!(
        check("{0}", 0),
        Err(TemplateError::NoSlot {
            at: 0,
            slot: 0,
            slots: 0
        })
    );
    assert_eq!(check("{{}}", 0), Ok(()));
}

#[test]
fn counts_that_are_not_small_integers() {
    let bad = [
        Arg::I8(-1),
        Arg::I64(-5),
        Arg::I128(i128::MIN),
        Arg::U64(65536),
        Arg::U128(u128::MAX),
        Arg::F64(3.0),
        Arg::Bool(true),
        Arg::Char('3'),
        Arg::Str("3"),
        Arg::Bytes(b"3"),
    ];
    for count in bad {
        let slots = [Some(Arg::I32(7)), Some(count)];
        for template in ["{0:1$}", "{0:.1$}", "{0:>+#01$.1$x}"] {
            let mut out = String::new();
            let result = render(&format!("ab{template}"), &slots, &mut out);
            assert_eq!(result, Err(TemplateError::BadCount { at: 2, slot: 1 }));
        }
    }
}

#[test]
fn types_a_value_cannot_take() {
    let cases: &[(&str, Arg<'_>, &str, &str)] = &[
        ("{0:x}", Arg::Str("s"), "str", "{:x}"),
        ("{0:X}", Arg::Char('c'), "char", "{:X}"),
        ("{0:o}", Arg::F64(1.0), "f64", "{:o}"),
        ("{0:b}", Arg::F32(1.0), "f32", "{:b}"),
        ("{0:e}", Arg::Bool(true), "bool", "{:e}"),
        ("{0:E}", Arg::Str("s"), "str", "{:E}"),
        ("{0}", Arg::Bytes(b"ab"), "bytes", "{}"),
        ("{0:x}", Arg::Bytes(b"ab"), "bytes", "{:x}"),
        ("{0:p}", Arg::I32(1), "i32", "{:p}"),
        ("{0:p}", Arg::Str("s"), "str", "{:p}"),
        ("{0:p}", Arg::Bytes(b""), "bytes", "{:p}"),
    ];
    for &(template, value, kind, ty) in cases {
        let mut out = String::new();
        let result = render(&format!("é{template}"), &[Some(value)], &mut out);
        let error = TemplateError::WrongType {
            at: 2,
            slot: 0,
            value: kind,
            ty,
        };
        assert_eq!(result, Err(error), "{template}");
        assert!(error.to_string().contains(ty));
    }
}

#[test]
fn text_takes_every_spec_verbatim() {
    let text = Some(Arg::Text("0x002a  "));
    for template in ["{0}", "{0:p}", "{0:>+#020.5e}", "{0:→^9x?}", "{0:#?}"] {
        assert_eq!(rendered(template, &[text]), "0x002a  ", "{template}");
    }
    // Its width and precision were applied when it was formatted: their
    // slots are not read, even when missing or not integers.
    let slots = [text, None, Some(Arg::Str("w"))];
    assert_eq!(rendered("[{0:1$.2$}]", &slots), "[0x002a  ]");
}

#[test]
fn missing_slots_render_as_nothing() {
    let slots = [None, Some(Arg::I8(-1)), Some(Arg::U64(6)), None];
    let cases: &[(&str, &str, usize)] = &[
        ("a{0}b{1}c", "ab-1c", 0),
        ("{1:x}|{0:>9}|{1}", "ff||-1", 0),
        ("{1:>3$}|{1:2$}", "|    -1", 3),
        ("{1:.3$}|{1:.2$e}", "|-1.000000e0", 3),
        ("{3}{0}", "", 3),
    ];
    for &(template, expected, slot) in cases {
        let mut out = String::new();
        let result = render(template, &slots, &mut out);
        assert_eq!(result, Err(TemplateError::Missing { slot }), "{template}");
        assert_eq!(out, expected, "{template}");
    }
    // Another error wins over a missing slot, and stops rendering.
    let mut out = String::new();
    let result = render("{0}{1:p}{1}", &slots, &mut out);
    assert!(matches!(
        result,
        Err(TemplateError::WrongType { slot: 1, .. })
    ));
    assert_eq!(check("{0}{1:p}", 4), Ok(()));
}

// ---------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------

#[test]
fn large_precisions_render_as_std() {
    let slots = [
        Some(Arg::F64(1e308)),
        Some(Arg::F32(-1.5e-45)),
        Some(Arg::U128(u128::MAX)),
        Some(Arg::I8(-128)),
    ];
    let template = "{0:.65535}|{0:.65534e}|{1:.65535?}|{1:+.65534E}|{2:.65535e}|{3:.65535e}";
    assert_eq!(
        rendered(template, &slots),
        format!(
            "{0:.65535}|{0:.65534e}|{1:.65535?}|{1:+.65534E}|{2:.65535e}|{3:.65535e}",
            1e308,
            -1.5e-45f32,
            u128::MAX,
            -128i8
        )
    );
    // One more decimal is where std's float exponent form stops (Rust 1.95
    // panics on it): an error here.
    for (template, precision) in [("ab{0:.65535e}", None), ("ab{0:+.1$E}", Some(65535))] {
        for value in [Arg::F64(1.5), Arg::F32(f32::INFINITY)] {
            let slots = [Some(value), precision.map(Arg::U64)];
            let mut out = String::new();
            let result = render(template, &slots, &mut out);
            assert_eq!(result, Err(TemplateError::ExpPrecision { at: 2 }));
            assert_eq!(out, "ab");
        }
    }
}

/// `render` of `template` with `slots` stops at `MAX_MESSAGE` bytes with
/// `TooLong`, after `before`, having written the start of `full`.
fn assert_cut(template: &str, slots: &[Option<Arg<'_>>], full: &str) {
    assert!(full.len() > MAX_MESSAGE);
    let before = "→ before ";
    let mut out = String::from(before);
    assert_eq!(
        render(template, slots, &mut out),
        Err(TemplateError::TooLong)
    );
    let message = out
        .strip_prefix(before)
        .unwrap_or_else(|| panic!("prefix kept"));
    assert!(message.len() <= MAX_MESSAGE);
    assert!(message.len() > MAX_MESSAGE - 4, "{}", message.len());
    assert!(full.starts_with(message));
}

#[test]
fn output_stops_at_the_bound() {
    // Fill of three bytes, cut inside a char.
    let template = "{0:→>65535}".repeat(6);
    let full = format!("{0:→>65535}", 'c').repeat(6);
    assert_cut(&template, &[Some(Arg::Char('c'))], &full);

    // Literal text.
    let text = "é".repeat(MAX_MESSAGE);
    assert_cut(&text, &[], &text);

    // A byte list, each byte padded.
    let bytes: Vec<u8> = (0..=255).collect();
    let full = format!("{0:#5000x?}", bytes);
    assert_cut("{0:#5000x?}", &[Some(Arg::Bytes(&bytes))], &full);

    // A long string, and text.
    let long = "ab→".repeat(MAX_MESSAGE / 4);
    let full = format!("{0}{0:?}", long);
    assert_cut("{0}{0:?}", &[Some(Arg::Str(&long))], &full);
    assert_cut(
        "{0}{0}",
        &[Some(Arg::Text(&long))],
        &format!("{long}{long}"),
    );

    // Exactly the bound is not too long.
    let exact = "a".repeat(MAX_MESSAGE);
    assert_eq!(rendered("{0}", &[Some(Arg::Str(&exact))]), exact);
}

// ---------------------------------------------------------------------------
// Totality
// ---------------------------------------------------------------------------

/// Templates near the syntax: braces, flags, digits, types, text.
fn templates() -> impl Strategy<Value = String> {
    let near = vec(
        prop_oneof![
            4 => select(vec![
                "{", "}", "{{", "}}", "{0", "{1", "{2", ":", "<", "^", ">", "+", "-", "#", "0",
                "1", "5", "65535", "65536", "$", "1$", "2$", ".", ".*", "x", "X", "o", "b", "e",
                "E", "p", "?", "x?", "_", " ", "\n", "é", "→", "}", "{0:", "{1:", "{2:"
            ])
            .prop_map(String::from),
            1 => any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![4 => near, 1 => any::<String>()]
}

proptest! {
    /// Any template with any slots: never a panic, a bounded message, and
    /// `check` agreeing with `render` (`fuzz_render` asserts both).
    #[test]
    fn arbitrary_templates_and_slots(
        template in templates(),
        slots in vec(prop::option::weighted(0.9, values()), 0..4),
    ) {
        let slots: Vec<Option<Arg<'_>>> = slots.iter().map(|v| v.as_ref().map(Value::arg)).collect();
        fuzz_render(&template, &slots);
    }

    /// A template that checks renders, with values of the types it takes.
    #[test]
    fn checked_templates_render(template in templates()) {
        let slots = [Some(Arg::U64(3)), Some(Arg::U64(4)), Some(Arg::Text("t"))];
        if check(&template, 3).is_ok() {
            let mut out = String::new();
            let result = render(&template, &slots, &mut out);
            prop_assert!(
                matches!(
                    result,
                    Ok(())
                        | Err(TemplateError::WrongType { .. })
                        | Err(TemplateError::BadCount { .. })
                        | Err(TemplateError::TooLong)
                ),
                "{:?}: {:?}", template, result
            );
        }
    }

    /// The fuzz target's input: any bytes.
    #[test]
    fn arbitrary_fuzz_inputs(bytes in vec(any::<u8>(), 0..200)) {
        let (template, slots) = fuzz_input(&bytes);
        fuzz_render(&template, &slots);
    }
}

// ---------------------------------------------------------------------------
// The fuzz target's seeds
// ---------------------------------------------------------------------------

/// The `template` fuzz target's input for `template` and `slots`.
fn fuzz_bytes(template: &str, slots: &[Option<Arg<'_>>]) -> Vec<u8> {
    let len = u16::try_from(template.len()).unwrap_or_else(|_| panic!("template too long"));
    let mut bytes = len.to_le_bytes().to_vec();
    bytes.extend_from_slice(template.as_bytes());
    for slot in slots {
        let sized = |bytes: &mut Vec<u8>, kind: u8, value: &[u8]| {
            let len = u8::try_from(value.len()).unwrap_or_else(|_| panic!("value too long"));
            bytes.extend([kind, len]);
            bytes.extend_from_slice(value);
        };
        let (kind, value): (u8, Vec<u8>) = match *slot {
            None => (0, vec![]),
            Some(Arg::I8(v)) => (1, v.to_le_bytes().into()),
            Some(Arg::I16(v)) => (2, v.to_le_bytes().into()),
            Some(Arg::I32(v)) => (3, v.to_le_bytes().into()),
            Some(Arg::I64(v)) => (4, v.to_le_bytes().into()),
            Some(Arg::I128(v)) => (5, v.to_le_bytes().into()),
            Some(Arg::U64(v)) => (6, v.to_le_bytes().into()),
            Some(Arg::U128(v)) => (7, v.to_le_bytes().into()),
            Some(Arg::F32(v)) => (8, v.to_le_bytes().into()),
            Some(Arg::F64(v)) => (9, v.to_le_bytes().into()),
            Some(Arg::Bool(v)) => (10, vec![u8::from(v)]),
            Some(Arg::Char(v)) => (11, u32::from(v).to_le_bytes().into()),
            Some(Arg::Str(v)) => {
                sized(&mut bytes, 12, v.as_bytes());
                continue;
            }
            Some(Arg::Bytes(v)) => {
                sized(&mut bytes, 13, v);
                continue;
            }
            Some(Arg::Text(v)) => {
                sized(&mut bytes, 14, v.as_bytes());
                continue;
            }
        };
        bytes.push(kind);
        bytes.extend_from_slice(&value);
    }
    bytes
}

/// The seeds: a typical message, every type with specs of its own, counts
/// from slots, text, a missing slot, a malformed template.
fn fuzz_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let every_type = [
        Some(Arg::I8(-5)),
        Some(Arg::I16(-300)),
        Some(Arg::I32(70000)),
        Some(Arg::I64(-1)),
        Some(Arg::I128(i128::MIN)),
        Some(Arg::U64(u64::MAX)),
        Some(Arg::U128(7)),
        Some(Arg::F32(1.5)),
        Some(Arg::F64(-0.0)),
        Some(Arg::Bool(true)),
        Some(Arg::Char('\'')),
        Some(Arg::Str("a\"b\n")),
        Some(Arg::Bytes(b"\x00\xff")),
        Some(Arg::Text("text")),
    ];
    vec![
        (
            "seed-message",
            fuzz_bytes(
                "order {0} filled at {1:>8.2} {{ok}}",
                &[Some(Arg::U64(42)), Some(Arg::F64(101.25))],
            ),
        ),
        (
            "seed-every-type",
            fuzz_bytes(
                "{0:x} {1:+08} {2:#b} {3:X?} {4:e} {5:o} {6:^#9x} {7:.3e} {8:?} \
                 {9:>6} {10:?} {11:?} {12:#04x?} {13:p}",
                &every_type,
            ),
        ),
        (
            "seed-counts",
            fuzz_bytes(
                "{0:→^1$.2$} {0:01$e} {3:2$?}",
                &[
                    Some(Arg::F64(3.25)),
                    Some(Arg::U64(12)),
                    Some(Arg::U64(3)),
                    Some(Arg::Str("é")),
                ],
            ),
        ),
        (
            "seed-missing",
            fuzz_bytes("{0} and {1:#?}", &[None, Some(Arg::Bytes(b"ab"))]),
        ),
        (
            "seed-malformed",
            fuzz_bytes("{0:>+#0x?}{0:.*}", &[Some(Arg::I8(1))]),
        ),
    ]
}

#[test]
fn fuzz_input_reads_back_what_fuzz_bytes_writes() {
    for (name, bytes) in fuzz_seeds() {
        let (template, slots) = fuzz_input(&bytes);
        assert_eq!(fuzz_bytes(&template, &slots), bytes, "{name}");
        fuzz_render(&template, &slots);
    }
}

/// Writes the `template` fuzz target's seeds into `fuzz/corpus/template/`.
#[test]
#[ignore = "writes the fuzz seeds"]
fn write_template_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/template");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (name, bytes) in fuzz_seeds() {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
