//! STUB of the log macros' runtime (`logring::__private`): the items the
//! macros' expansion names, with their signatures, so that the expansion
//! compiles and runs. It registers nothing and writes nothing; the runtime
//! that encodes macro events replaces this file.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use super::Level;

/// A macro callsite: a `static` per log call.
pub struct Callsite {
    meta: CallsiteMeta,
}

/// What a macro callsite registers once.
pub struct CallsiteMeta {
    /// The call's level.
    pub level: Level,
    /// `target:` if given, else the module's path.
    pub target: &'static str,
    /// The calling module's path.
    pub module_path: &'static str,
    /// The calling file.
    pub file: &'static str,
    /// The calling line.
    pub line: u32,
    /// The canonical template.
    pub template: &'static str,
    /// The visible slots' field names.
    pub names: &'static [&'static str],
    /// Every slot, hidden ones included.
    pub slots: u16,
}

impl Callsite {
    /// A callsite of `meta`, not yet registered.
    pub const fn new(meta: CallsiteMeta) -> Self {
        Callsite { meta }
    }
}

/// The most verbose level enabled, as `Level as u8` (everything, in the stub).
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Trace as u8);

/// `true` if calls at `level` are enabled.
#[inline]
pub fn enabled(level: Level) -> bool {
    // Relaxed: a level change needs no ordering with anything else.
    level as u8 >= MAX_LEVEL.load(Ordering::Relaxed)
}

/// An argument of a log call, to pick its slot by autoref: [`ViaTyped`]
/// when it has a binary form, else [`ViaFallback`].
pub struct ArgRef<'a, T: ?Sized>(pub &'a T);

/// What one slot of a call carries.
#[allow(missing_docs)]
pub enum Slot<'a> {
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
    Str(&'a str),
    Bytes(&'a [u8]),
    /// Pre-formatted with its placeholder's spec.
    Text(fmt::Arguments<'a>),
}

/// The slot of an argument with a binary form.
pub trait ViaTyped {
    /// The argument's slot.
    fn __logring_slot<'s>(&'s self, fallback: fmt::Arguments<'s>) -> Slot<'s>;
}

impl<T: TypedArg + ?Sized> ViaTyped for ArgRef<'_, T> {
    fn __logring_slot<'s>(&'s self, _fallback: fmt::Arguments<'s>) -> Slot<'s> {
        self.0.slot()
    }
}

/// The slot of any other argument: pre-formatted.
pub trait ViaFallback {
    /// The argument's slot.
    fn __logring_slot<'s>(&'s self, fallback: fmt::Arguments<'s>) -> Slot<'s>;
}

impl<T: ?Sized> ViaFallback for &ArgRef<'_, T> {
    fn __logring_slot<'s>(&'s self, fallback: fmt::Arguments<'s>) -> Slot<'s> {
        Slot::Text(fallback)
    }
}

/// A type that travels in binary.
pub trait TypedArg {
    /// The value's slot.
    fn slot(&self) -> Slot<'_>;
}

macro_rules! typed {
    ($($ty:ty => |$v:ident| $slot:expr;)*) => {
        $(impl TypedArg for $ty {
            fn slot(&self) -> Slot<'_> {
                let $v = self;
                $slot
            }
        })*
    };
}

typed! {
    u8 => |v| Slot::U64(u64::from(*v));
    u16 => |v| Slot::U64(u64::from(*v));
    u32 => |v| Slot::U64(u64::from(*v));
    u64 => |v| Slot::U64(*v);
    usize => |v| Slot::U64(*v as u64);
    u128 => |v| Slot::U128(*v);
    i8 => |v| Slot::I8(*v);
    i16 => |v| Slot::I16(*v);
    i32 => |v| Slot::I32(*v);
    i64 => |v| Slot::I64(*v);
    isize => |v| Slot::I64(*v as i64);
    i128 => |v| Slot::I128(*v);
    f32 => |v| Slot::F32(*v);
    f64 => |v| Slot::F64(*v);
    bool => |v| Slot::Bool(*v);
    char => |v| Slot::Char(*v);
    str => |v| Slot::Str(v);
    String => |v| Slot::Str(v);
    [u8] => |v| Slot::Bytes(v);
    Vec<u8> => |v| Slot::Bytes(v);
}

impl<const N: usize> TypedArg for [u8; N] {
    fn slot(&self) -> Slot<'_> {
        Slot::Bytes(self)
    }
}

impl<T: TypedArg + ?Sized> TypedArg for &T {
    fn slot(&self) -> Slot<'_> {
        (**self).slot()
    }
}

/// Writes one call's event. The stub checks the expansion's shape instead:
/// one slot per counted slot, no more names than slots, and every
/// pre-formatted slot formats.
#[inline]
pub fn emit<const N: usize>(callsite: &'static Callsite, slots: &[Slot<'_>; N]) {
    let meta = &callsite.meta;
    assert_eq!(usize::from(meta.slots), N, "{}", meta.template);
    assert!(meta.names.len() <= N, "{}", meta.template);
    let _ = (
        meta.level,
        meta.target,
        meta.module_path,
        meta.file,
        meta.line,
    );
    for slot in slots {
        if let Slot::Text(text) = slot {
            let _ = text.to_string();
        }
    }
}
