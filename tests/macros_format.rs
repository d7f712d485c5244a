//! What a reader prints for a call of logring's macros is what `format!`
//! prints for the same format string and arguments: every call here logs
//! into the process's global ring, is decoded as `logring tail --format
//! json` decodes it, and its `fields.message` is compared with `format!`.
//!
//! - A grid of format specs, each written as a literal: for each, a property
//!   test over values of every type that can take it (integers of every
//!   width, floats of every class, bools, chars, strings that escape, byte
//!   slices and arrays for the `?` specs, references, and types of the slow
//!   path: a custom type and an `Option`, formatted into the record).
//! - Several arguments, literal text, explicit positions (one argument shown
//!   twice with different specs), named arguments, captured variables,
//!   widths and precisions from arguments, `{:p}`, and the target.
//! - The fields: `arg0`, `arg1`, ... for positional arguments, the names of
//!   named and captured ones, with their JSON types; an argument larger than
//!   a record, cut visibly.
//! - Levels: `set_max_level` filters, and the arguments of a filtered call
//!   are never evaluated; a full ring drops calls, then says how many.
//!
//! The macros write into one global sender per process: the tests of this
//! binary run on parallel threads, so each takes [`GLOBAL`]'s lock, logs,
//! and decodes what it logged before it lets go.

#![cfg(not(miri))]
// rustc honours an `allow` of this lint only for a whole crate, for
// `format!` as for the macros: `a_named_argument_shown_by_position`.
#![allow(named_arguments_used_positionally)]

mod events_support;

use std::cell::Cell;
use std::fmt;
use std::sync::{LazyLock, Mutex, PoisonError};

use events_support::{field, json_lines, str_key};
use logring::channel::{Receiver, mpsc};
use logring::events::{self, Decoder, Format, Level};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

/// The ring the macros write into, and its decoder.
struct Global {
    receiver: Receiver,
    decoder: Decoder,
    /// A sender of plain records, which moves the ring's position.
    plain: mpsc::Sender,
}

/// Large enough for every test's events (each decodes what it logged before
/// the next logs); small enough that the test of a cut argument is quick.
const RING: usize = 1 << 20;

static GLOBAL: LazyLock<Mutex<Global>> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::new(RING).expect("a heap ring");
    let plain = sender.clone();
    events::set_global(sender).expect("the only set_global of this binary");
    let decoder = Decoder::new(&receiver, Format::Json);
    Mutex::new(Global {
        receiver,
        decoder,
        plain,
    })
});

impl Global {
    /// Every event the ring holds, decoded: JSON lines.
    fn drain_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(record) = self.receiver.try_recv() {
            let mut line = String::new();
            self.decoder
                .line(&mut line, 1, record.position(), record.tag(), &record);
            lines.push(line);
        }
        lines
    }

    /// Every event the ring holds, decoded and parsed.
    fn drain(&mut self) -> Vec<Value> {
        let lines = self.drain_lines();
        json_lines(&lines)
    }
}

/// The events `body` logs, decoded as JSON lines; no other test logs
/// meanwhile.
fn logged_lines(body: impl FnOnce()) -> Vec<String> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    // What a test that failed midway left behind.
    global.drain_lines();
    body();
    global.drain_lines()
}

/// The events `body` logs, decoded and parsed.
fn logged(body: impl FnOnce()) -> Vec<Value> {
    json_lines(&logged_lines(body))
}

/// The one event `body` logs, decoded.
#[track_caller]
fn one_event(body: impl FnOnce()) -> Value {
    let mut objects = logged(body);
    assert_eq!(objects.len(), 1, "one event expected: {objects:#?}");
    objects.remove(0)
}

/// The message of the one event `body` logs.
#[track_caller]
fn message_of(body: impl FnOnce()) -> String {
    let object = one_event(body);
    match field(&object, "message") {
        Value::String(message) => message.clone(),
        other => panic!("the message is not a string: {other} in {object}"),
    }
}

/// The fields of `object`, as a JSON object.
#[track_caller]
fn fields(object: &Value) -> &serde_json::Map<String, Value> {
    object["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("no fields in {object}"))
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A type of the slow path: every formatting trait of an `i64`, so that each
/// spec formats it as it formats the `i64` (padding, sign, precision and
/// all), through the placeholder's own spec.
#[derive(Clone, Copy)]
struct Custom(i64);

macro_rules! delegate {
    ($($trait:ident)*) => {$(
        impl fmt::$trait for Custom {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::$trait::fmt(&self.0, f)
            }
        }
    )*};
}
delegate!(Display LowerHex UpperHex Octal Binary LowerExp UpperExp);

impl fmt::Debug for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Custom").field(&self.0).finish()
    }
}

/// One value of every type the grid formats.
#[derive(Clone, Debug)]
struct Values {
    i8: i8,
    i16: i16,
    i32: i32,
    i64: i64,
    i128: i128,
    isize: isize,
    u8: u8,
    u16: u16,
    u32: u32,
    u64: u64,
    u128: u128,
    usize: usize,
    f32: f32,
    f64: f64,
    bool: bool,
    char: char,
    string: String,
    bytes: Vec<u8>,
    array: [u8; 3],
    option: Option<i32>,
}

/// Integers: the whole range, and small ones (where widths show).
fn int<T: Arbitrary + fmt::Debug + Clone + 'static>(
    small: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = T> {
    prop_oneof![any::<T>(), small]
}

macro_rules! floats {
    ($name:ident, $f:ident) => {
        /// Floats of every class (NaN, infinities, zeros of both signs,
        /// subnormals), the special ones often.
        fn $name() -> impl Strategy<Value = $f> {
            prop_oneof![
                3 => proptest::num::$f::ANY,
                2 => select(vec![
                    0.0, -0.0, $f::NAN, -$f::NAN, $f::INFINITY, $f::NEG_INFINITY,
                    $f::MIN_POSITIVE, $f::MIN_POSITIVE / 2.0, -$f::MIN_POSITIVE / 3.0,
                    $f::from_bits(1), $f::MAX, $f::MIN, $f::EPSILON, 1e-5, 1e-4, 1e15,
                    1e16, 0.1, 0.5, 1.5, 2.5, -2.5, 9.995, 0.125, 123456.75, 1.0,
                ]),
                2 => (-1e6 as $f..1e6 as $f),
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
        vec(chars(), 0..12).prop_map(String::from_iter),
        "[a-z ]{0,12}",
        any::<String>(),
    ]
}

fn values() -> impl Strategy<Value = Values> {
    let ints = (
        int(-100i8..=100),
        int(-300i16..=300),
        int(-300i32..=300),
        int(-300i64..=300),
        int(-300i128..=300),
        int(-300isize..=300),
        int(0u8..=100),
        int(0u16..=300),
        int(0u32..=300),
        int(0u64..=300),
        int(0u128..=300),
        int(0usize..=300),
    );
    let others = (
        f32s(),
        f64s(),
        any::<bool>(),
        chars(),
        strings(),
        vec(any::<u8>(), 0..6),
        any::<[u8; 3]>(),
        any::<Option<i32>>(),
    );
    (ints, others).prop_map(
        |(
            (i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize),
            (f32, f64, bool, char, string, bytes, array, option),
        )| Values {
            i8,
            i16,
            i32,
            i64,
            i128,
            isize,
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            f32,
            f64,
            bool,
            char,
            string,
            bytes,
            array,
            option,
        },
    )
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(128)
}

// ---------------------------------------------------------------------------
// The grid
// ---------------------------------------------------------------------------

/// Logs `$arg` with the literal `$lit` and checks the decoded message
/// against `format!`.
macro_rules! check_one {
    ($lit:literal, $ty:literal, $arg:expr) => {{
        let expected = format!($lit, $arg);
        let message = message_of(|| logring::info!($lit, $arg));
        prop_assert_eq!(
            message,
            expected,
            "format string {:?}, a {} argument: {:?}",
            $lit,
            $ty,
            $arg
        );
    }};
}

/// [`check_one!`] with the value of kind `$kind` in the [`Values`] `$v`.
macro_rules! check {
    ($lit:literal, $v:ident, i8) => {
        check_one!($lit, "i8", $v.i8)
    };
    ($lit:literal, $v:ident, i16) => {
        check_one!($lit, "i16", $v.i16)
    };
    ($lit:literal, $v:ident, i32) => {
        check_one!($lit, "i32", $v.i32)
    };
    ($lit:literal, $v:ident, i64) => {
        check_one!($lit, "i64", $v.i64)
    };
    ($lit:literal, $v:ident, i128) => {
        check_one!($lit, "i128", $v.i128)
    };
    ($lit:literal, $v:ident, isize) => {
        check_one!($lit, "isize", $v.isize)
    };
    ($lit:literal, $v:ident, u8) => {
        check_one!($lit, "u8", $v.u8)
    };
    ($lit:literal, $v:ident, u16) => {
        check_one!($lit, "u16", $v.u16)
    };
    ($lit:literal, $v:ident, u32) => {
        check_one!($lit, "u32", $v.u32)
    };
    ($lit:literal, $v:ident, u64) => {
        check_one!($lit, "u64", $v.u64)
    };
    ($lit:literal, $v:ident, u128) => {
        check_one!($lit, "u128", $v.u128)
    };
    ($lit:literal, $v:ident, usize) => {
        check_one!($lit, "usize", $v.usize)
    };
    ($lit:literal, $v:ident, f32) => {
        check_one!($lit, "f32", $v.f32)
    };
    ($lit:literal, $v:ident, f64) => {
        check_one!($lit, "f64", $v.f64)
    };
    ($lit:literal, $v:ident, bool) => {
        check_one!($lit, "bool", $v.bool)
    };
    ($lit:literal, $v:ident, char) => {
        check_one!($lit, "char", $v.char)
    };
    ($lit:literal, $v:ident, str) => {
        check_one!($lit, "&str", $v.string.as_str())
    };
    ($lit:literal, $v:ident, string) => {
        check_one!($lit, "String", $v.string)
    };
    // A reference to a reference: the typed path sees through both.
    ($lit:literal, $v:ident, ref_u64) => {
        check_one!($lit, "&&u64", &&$v.u64)
    };
    ($lit:literal, $v:ident, bytes) => {
        check_one!($lit, "&[u8]", $v.bytes.as_slice())
    };
    ($lit:literal, $v:ident, array) => {
        check_one!($lit, "[u8; 3]", $v.array)
    };
    ($lit:literal, $v:ident, vec) => {
        check_one!($lit, "Vec<u8>", $v.bytes)
    };
    // The slow path: formatted into the record with the placeholder's spec.
    ($lit:literal, $v:ident, custom) => {
        check_one!($lit, "custom", Custom($v.i64))
    };
    ($lit:literal, $v:ident, option) => {
        check_one!($lit, "Option<i32>", $v.option)
    };
}

/// One property test per format string: values of every type of its list.
macro_rules! grid {
    ($($name:ident: $lit:literal => $kinds:ident;)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $name(v in values()) {
                    $kinds!(grid_row, $lit, v);
                }
            )*
        }
    };
}

/// Checks `$lit` with the value of each kind listed.
macro_rules! grid_row {
    ($lit:literal, $v:ident, $($kind:ident)*) => {
        $(check!($lit, $v, $kind);)*
    };
}

// The kinds of value each spec takes, as lists handed to `$then!`.

/// Types that implement `Display`.
macro_rules! display {
    ($then:ident, $lit:literal, $v:ident) => {
        $then!($lit, $v, i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize
            f32 f64 bool char str string ref_u64 custom)
    };
}

/// Types that implement `Debug`.
macro_rules! debug {
    ($then:ident, $lit:literal, $v:ident) => {
        $then!($lit, $v, i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize
            f32 f64 bool char str string ref_u64 bytes array vec custom option)
    };
}

/// Integers (and the custom type, which formats as one).
macro_rules! integer {
    ($then:ident, $lit:literal, $v:ident) => {
        $then!($lit, $v, i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize ref_u64 custom)
    };
}

/// Types with an exponent form: integers and floats.
macro_rules! exponent {
    ($then:ident, $lit:literal, $v:ident) => {
        $then!($lit, $v, i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize ref_u64 custom
            f32 f64)
    };
}

grid! {
    plain: "{}" => display;
    debug: "{:?}" => debug;
    width: "{:5}" => display;
    left: "{:<5}" => display;
    center: "{:^7}" => display;
    right: "{:>9}" => display;
    fill_center: "{:*^9}" => display;
    fill_unicode: "{:é>6}" => display;
    fill_brace: "{:}>4}" => display;
    fill_space: "{: <6}" => display;
    plus: "{:+}" => display;
    minus: "{:-}" => display;
    plus_zero: "{:+05}" => display;
    zero_flag_alone: "{:0}" => display;
    zero_precision: "{:08.3}" => display;
    precision_0: "{:.0}" => display;
    precision_3: "{:.3}" => display;
    width_precision: "{:>9.2}" => display;
    lower_hex: "{:x}" => integer;
    upper_hex: "{:X}" => integer;
    alternate_hex: "{:#x}" => integer;
    alternate_hex_zero: "{:#010x}" => integer;
    alternate_hex_centered: "{:^#12x}" => integer;
    signed_upper_hex: "{:<+#08X}" => integer;
    octal: "{:o}" => integer;
    alternate_octal: "{:#o}" => integer;
    binary: "{:b}" => integer;
    alternate_binary: "{:#b}" => integer;
    lower_exp: "{:e}" => exponent;
    upper_exp: "{:E}" => exponent;
    signed_exp: "{:+.2e}" => exponent;
    padded_exp: "{:>+#012.3e}" => exponent;
    lower_debug_hex: "{:x?}" => debug;
    upper_debug_hex: "{:X?}" => debug;
    alternate_debug_hex: "{:#x?}" => debug;
    pretty: "{:#?}" => debug;
    debug_width: "{:5?}" => debug;
    debug_precision: "{:08.3?}" => debug;
    debug_fill: "{:_^9?}" => debug;
    fill_zero: "{:0>5}" => display;
    fill_and_zero_flag: "{:x>+08}" => display;
    zero_width_precision: "{:010.3}" => display;
    alternate_binary_zero: "{:#08b}" => integer;
    centered_exp: "{:^+12.1e}" => exponent;
    signed_pretty: "{:+#?}" => debug;
    padded_debug_hex: "{:<#5x?}" => debug;
    upper_pretty_hex: "{:#X?}" => debug;
    // A newline as the fill: the pretty printer indents it too.
    pretty_newline_fill: "{:\n>#4?}" => debug;
}

// ---------------------------------------------------------------------------
// Several arguments, positions, names, captures, counts, targets
// ---------------------------------------------------------------------------

#[test]
fn several_arguments_and_literal_text() {
    let (id, px, side) = (42u64, 101.25f64, "buy");
    let message = message_of(|| {
        logring::info!(
            "order {} {{filled}} at {:>8.2} }}{{ by {:?}\nnext line: é → 😀 \t{}",
            id,
            px,
            side,
            -7i16
        );
    });
    assert_eq!(
        message,
        format!(
            "order {} {{filled}} at {:>8.2} }}{{ by {:?}\nnext line: é → 😀 \t{}",
            id, px, side, -7i16
        )
    );
    assert_eq!(
        message_of(|| logring::info!("no arguments {{}}")),
        "no arguments {}"
    );
    assert_eq!(message_of(|| logring::info!("")), "");
    assert_eq!(
        message_of(|| logring::info!(r#"raw "{}" \n"#, 1u8)),
        r#"raw "1" \n"#
    );
}

#[test]
fn explicit_positions_and_an_argument_shown_twice() {
    let object = one_event(|| logring::info!("{1} {0} {1:?}", 7u8, "a\"b"));
    assert_eq!(
        field(&object, "message"),
        &json!(format!("{1} {0} {1:?}", 7u8, "a\"b"))
    );
    // The hidden slot (argument 1 again, for its second spec) is no field.
    assert_eq!(
        Value::Object(fields(&object).clone()),
        json!({"message": "a\"b 7 \"a\\\"b\"", "arg0": 7, "arg1": "a\"b"})
    );

    // A slow-path argument shown with two specs: formatted with each.
    let custom = Custom(-42);
    let message = message_of(|| logring::info!("{0} {0:?} {0:>+6} {0:#x} {0}", custom));
    assert_eq!(message, format!("{0} {0:?} {0:>+6} {0:#x} {0}", custom));
}

/// A named argument shown by its position too: rustc warns of it, as it
/// does for `format!` (allowed for this file).
#[test]
fn a_named_argument_shown_by_position() {
    let object = one_event(|| logring::info!("{} {} {a:?}", 1u8, a = "x"));
    assert_eq!(
        object["fields"],
        json!({"message": "1 x \"x\"", "arg0": 1, "a": "x"})
    );
}

#[test]
fn named_arguments_and_captured_variables() {
    let id = 42u64;
    let name = "ann";
    let lines = logged_lines(|| {
        logring::info!(
            "{} {qty:>4} {id} {id:>5} {name:?} {qty}",
            1.5f32,
            qty = 3i32
        );
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let object = &json_lines(&lines)[0];
    let message = format!(
        "{} {qty:>4} {id} {id:>5} {name:?} {qty}",
        1.5f32,
        qty = 3i32
    );
    assert_eq!(
        object["fields"],
        json!({"message": message, "arg0": 1.5, "qty": 3, "id": 42, "name": "ann"})
    );
    // The message first, then positional arguments, named ones in call
    // order, captures in order of first appearance; hidden slots (`id` and
    // `qty` again, with other specs) are no fields.
    let fields = r#""fields":{"message":"1.5    3 42    42 \"ann\" 3","arg0":1.5,"qty":3,"id":42,"name":"ann"}"#;
    assert!(lines[0].contains(fields), "{}", lines[0]);
    // A raw identifier as a named argument.
    let object = one_event(|| logring::info!("{type}", r#type = 'x'));
    assert_eq!(object["fields"], json!({"message": "x", "type": "x"}));
}

proptest! {
    #![proptest_config(config())]

    /// Widths and precisions from arguments: `N$`, `.*`, `name$`, captured,
    /// for typed and slow-path values.
    #[test]
    fn widths_and_precisions_from_arguments(
        v in values(),
        width in 0usize..40,
        precision in 0usize..20,
    ) {
        let (w, p) = (width, precision);
        let f = v.f64;
        let s = v.string.as_str();
        let c = Custom(v.i64);

        let got = message_of(|| logring::info!("{:1$}|{0:<1$?}", s, width));
        prop_assert_eq!(got, format!("{:1$}|{0:<1$?}", s, width));
        let got = message_of(|| logring::info!("{:.*} {:>4$.*}", precision, f, precision, v.f32, width));
        prop_assert_eq!(got, format!("{:.*} {:>4$.*}", precision, f, precision, v.f32, width));
        let got = message_of(|| logring::info!("{:w$.p$}|{:^+w$.p$e}", f, v.i32, w = w, p = p));
        prop_assert_eq!(got, format!("{:w$.p$}|{:^+w$.p$e}", f, v.i32, w = w, p = p));
        let got = message_of(|| logring::info!("{s:>w$.p$}|{c:0w$}|{c:<w$?}"));
        prop_assert_eq!(got, format!("{s:>w$.p$}|{c:0w$}|{c:<w$?}"));
        // An argument that is its own width, and the width of another.
        let n = v.usize % 50;
        let got = message_of(|| logring::info!("{:0$} {:.0$x?}", n, &v.bytes[..]));
        prop_assert_eq!(got, format!("{:0$} {:.0$x?}", n, &v.bytes[..]));
    }
}

#[test]
fn captured_widths_and_precisions() {
    let (w, p) = (7usize, 2usize);
    let message = message_of(|| logring::info!("[{:w$.p$}] [{:>w$}]", 1.23456f64, "ab"));
    assert_eq!(message, "[   1.23] [     ab]");
}

/// Logs `value` from a generic function, where the macro cannot tell
/// `T`'s type: every argument takes the slow path, with the same text.
fn generic<T: fmt::Display + fmt::Debug>(value: T) -> String {
    message_of(|| logring::info!("[{:>6}] [{:?}]", value, value))
}

#[test]
fn arguments_of_a_generic_type() {
    assert_eq!(generic(42u64), format!("[{:>6}] [{:?}]", 42u64, 42u64));
    assert_eq!(generic("a\"b"), format!("[{:>6}] [{:?}]", "a\"b", "a\"b"));
    assert_eq!(
        generic(Custom(-3)),
        format!("[{:>6}] [{:?}]", Custom(-3), Custom(-3))
    );
}

#[test]
fn threads_logging_at_once_through_new_callsites() {
    const THREADS: u64 = 4;
    const EACH: u64 = 200;
    let objects = logged(|| {
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                scope.spawn(move || {
                    for i in 0..EACH {
                        // Every thread's first events race to register the
                        // callsites: the losers' carry their metadata.
                        logring::info!("thread {thread} event {i}");
                        logring::warn!("{:>4} {:?}", i, Custom(thread as i64));
                    }
                });
            }
        });
    });
    assert_eq!(objects.len() as u64, THREADS * EACH * 2);
    let mut next = vec![0u64; THREADS as usize];
    for object in &objects {
        let message = field(object, "message").as_str().expect("a message");
        if str_key(object, "level") == "WARN" {
            let (i, rest) = message.trim_start().split_once(' ').expect("two words");
            let thread = rest
                .strip_prefix("Custom(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{message:?}"));
            assert_eq!(i.parse::<u64>().ok(), Some(next[thread]), "{object}");
            next[thread] += 1;
        } else {
            let thread = field(object, "thread").as_u64().expect("a thread") as usize;
            assert_eq!(field(object, "i"), next[thread], "{object}");
            assert_eq!(message, format!("thread {thread} event {}", next[thread]));
        }
    }
    assert_eq!(next, vec![EACH; THREADS as usize]);
}

#[test]
fn pointers_are_formatted_where_they_are_logged() {
    let value = 7u32;
    let reference = &value;
    let message = message_of(|| logring::info!("{:p} {0:>20p}", reference));
    assert_eq!(message, format!("{:p} {0:>20p}", reference));
}

#[test]
fn targets() {
    let object = one_event(|| logring::warn!("default target"));
    assert_eq!(str_key(&object, "target"), "macros_format");
    assert_eq!(str_key(&object, "level"), "WARN");
    assert!(
        str_key(&object, "filename").ends_with("macros_format.rs"),
        "{object}"
    );
    assert!(object["line_number"].as_u64().is_some(), "{object}");

    let object = one_event(|| logring::error!(target: "fills", "order {} filled", 1u8));
    assert_eq!(str_key(&object, "target"), "fills");
    assert_eq!(str_key(&object, "level"), "ERROR");
    assert_eq!(field(&object, "message"), "order 1 filled");

    const TARGET: &str = "fills::late";
    let id = 3i64;
    let object = one_event(|| logring::info!(target: TARGET, "order {id} filled"));
    assert_eq!(str_key(&object, "target"), "fills::late");
    assert_eq!(
        object["fields"],
        json!({"message": "order 3 filled", "id": 3})
    );
}

// ---------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------

#[test]
fn fields_keep_their_types() {
    let bytes = [0x61u8, 0x62, 0xff];
    let object = one_event(|| {
        logring::info!(
            "{} {} {} {} {} {} {} {} {} {} {:?} {} {:?} {} {}",
            -1i8,
            -2i16,
            -3i32,
            -4i64,
            5u8,
            6u64,
            1.5f32,
            2.25f64,
            true,
            'é',
            "s\"tr",
            String::from("owned"),
            &bytes[..],
            Custom(9),
            u128::MAX,
        );
    });
    assert_eq!(
        object["fields"],
        json!({
            "message": format!(
                "{} {} {} {} {} {} {} {} {} {} {:?} {} {:?} {} {}",
                -1i8, -2i16, -3i32, -4i64, 5u8, 6u64, 1.5f32, 2.25f64, true, 'é', "s\"tr",
                "owned", &bytes[..], Custom(9), u128::MAX,
            ),
            "arg0": -1,
            "arg1": -2,
            "arg2": -3,
            "arg3": -4,
            "arg4": 5,
            "arg5": 6,
            "arg6": 1.5,
            "arg7": 2.25,
            "arg8": true,
            "arg9": "é",
            "arg10": "s\"tr",
            "arg11": "owned",
            // Bytes and 128-bit integers as `tracing`'s JSON writes them.
            "arg12": "[61 62 ff]",
            // The slow path: the text it was formatted into.
            "arg13": "9",
            "arg14": u128::MAX.to_string(),
        })
    );
    // Non-finite floats are JSON's `null`, as serde_json writes them; the
    // message has them as `format!` does.
    let object = one_event(|| logring::info!("{} {}", f64::NAN, f32::NEG_INFINITY));
    assert_eq!(
        object["fields"],
        json!({"message": "NaN -inf", "arg0": null, "arg1": null})
    );
}

#[test]
fn an_argument_larger_than_a_record_is_cut_visibly() {
    let long = "x".repeat(2 * RING);
    let objects = logged(|| {
        logring::info!("{} and {}", 1u8, long.as_str());
        logring::info!("after {}", 2u8);
    });
    assert_eq!(objects.len(), 2, "{objects:#?}");
    let cut = fields(&objects[0]);
    assert_eq!(cut["logring.truncated"], true, "{cut:?}");
    assert_eq!(cut["arg0"], 1, "{cut:?}");
    assert!(cut.get("arg1").is_none(), "{cut:?}");
    let message = cut["message"].as_str().expect("a message");
    assert!(message.starts_with("1 and "), "{message}");
    assert_eq!(field(&objects[1], "message"), "after 2");
    assert!(fields(&objects[1]).get("logring.truncated").is_none());
}

/// A slow-path argument whose text is `.0` bytes long.
struct Long(usize);

impl fmt::Display for Long {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (0..self.0).try_for_each(|_| f.write_str("y"))
    }
}

#[test]
fn a_long_slow_path_argument_is_whole() {
    let long = Long(RING / 8);
    let object = one_event(|| logring::info!("{}", long));
    assert_eq!(field(&object, "message"), &json!(long.to_string()));
    assert_eq!(field(&object, "arg0"), &json!(long.to_string()));
    assert!(fields(&object).get("logring.truncated").is_none());
}

/// Logs `body` into the empty ring, its position moved off the ring's
/// start first (a plain record sent and read); returns the events decoded
/// and how many were dropped.
fn logged_off_the_start(body: impl FnOnce()) -> (Vec<Value>, u64) {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    global
        .plain
        .send(&[0; 1000])
        .expect("room for a plain record");
    let drained = global.drain_lines();
    assert!(
        drained
            .last()
            .is_some_and(|line| line.contains("\"length\":1000"))
    );
    let before = events::global_dropped();
    body();
    let objects = global.drain();
    let dropped = events::global_dropped() - before;
    if dropped != 0 {
        // The drop notice goes with the next event: here, not in the next
        // test's.
        logring::info!("after the drop");
        global.drain_lines();
    }
    (objects, dropped)
}

/// A slow-path argument's text longer than its first claim: the event is
/// encoded off the ring and claimed at its size, so that it fits the ring
/// wherever the ring's position is (claims grown and aborted in turn would
/// each keep their space until the reader passes it).
#[test]
fn a_slow_path_argument_of_a_third_of_the_ring_is_logged() {
    let long = Long(RING * 3 / 10);
    let (objects, dropped) = logged_off_the_start(|| logring::info!("{}", long));
    assert_eq!(dropped, 0, "the event was dropped");
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(field(&objects[0], "message"), &json!(long.to_string()));
}

/// As above, for text larger than a record, which is to be cut visibly.
#[test]
fn a_slow_path_argument_larger_than_a_record_is_cut_visibly() {
    let (objects, dropped) =
        logged_off_the_start(|| logring::info!("{} and {}", 1u8, Long(2 * RING)));
    assert_eq!(dropped, 0, "the event was dropped");
    assert_eq!(objects.len(), 1, "{objects:#?}");
    let cut = fields(&objects[0]);
    assert_eq!(cut["logring.truncated"], true, "{cut:?}");
    assert_eq!(cut["arg0"], 1, "{cut:?}");
    assert!(cut.get("arg1").is_none(), "{cut:?}");
    let message = cut["message"].as_str().expect("a message");
    assert!(message.starts_with("1 and "), "{message}");
}

/// The renderer shows what it can of a message whose event was cut: a
/// placeholder whose slot is missing renders as nothing, the others as
/// usual, then the reason.
#[test]
fn a_cut_event_renders_the_placeholders_it_has() {
    let long = "x".repeat(2 * RING);
    let objects = logged(|| logring::info!("{1} then {0}", 1u8, long.as_str()));
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(field(&objects[0], "logring.truncated"), true);
    let message = field(&objects[0], "message").as_str().expect("a message");
    assert!(message.starts_with(" then 1"), "{message}");
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn a_full_ring_drops_and_then_says_how_many() {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    global.drain_lines();
    let before = events::global_dropped();
    let mut logged = 0u64;
    while events::global_dropped() == before {
        logring::info!("filling {}", logged);
        logged += 1;
    }
    for _ in 0..3 {
        logring::info!("filling {}", logged);
        logged += 1;
    }
    let dropped = events::global_dropped() - before;
    assert_eq!(
        dropped, 4,
        "the full ring dropped every call after the first"
    );
    let kept = global.drain_lines().len() as u64;
    assert_eq!(kept + dropped, logged);
    logring::info!("room again");
    let objects = global.drain();
    assert_eq!(objects.len(), 2, "{objects:#?}");
    assert_eq!(events_support::dropped_count(&objects[0]), Some(dropped));
    assert_eq!(field(&objects[1], "message"), "room again");
}

// ---------------------------------------------------------------------------
// Levels
// ---------------------------------------------------------------------------

/// Logs one event of each level.
fn log_every_level() {
    logring::trace!("trace {}", 1u8);
    logring::debug!("debug {}", 2u8);
    logring::info!("info {}", 3u8);
    logring::warn!("warn {}", 4u8);
    logring::error!("error {}", 5u8);
}

#[test]
fn the_max_level_filters_and_filtered_arguments_are_not_evaluated() {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    global.drain();
    // Every other test logs at the default level, under the lock: it is
    // set back however this test ends.
    assert_eq!(events::max_level(), Level::Info);
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            events::set_max_level(Level::Info);
        }
    }
    let _restore = Restore;
    for max in Level::ALL {
        events::set_max_level(max);
        assert_eq!(events::max_level(), max);
        log_every_level();
        let levels: Vec<String> = global
            .drain()
            .iter()
            .map(|object| str_key(object, "level").to_owned())
            .collect();
        let expected: Vec<&str> = Level::ALL
            .iter()
            .filter(|&&level| level >= max)
            .map(|level| level.as_str())
            .collect();
        assert_eq!(levels, expected, "with the max level {max}");
    }

    events::set_max_level(Level::Info);
    let evaluated = Cell::new(0u32);
    let touch = || {
        evaluated.set(evaluated.get() + 1);
        evaluated.get()
    };
    logring::debug!("{}", touch());
    logring::trace!("{} {named}", touch(), named = touch());
    assert_eq!(
        evaluated.get(),
        0,
        "arguments of filtered calls were evaluated"
    );
    logring::info!("{} {0:?} {0:>3}", touch());
    assert_eq!(
        evaluated.get(),
        1,
        "an argument shown three times is evaluated once"
    );
    let objects = global.drain();
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(field(&objects[0], "message"), "1 1   1");
}
