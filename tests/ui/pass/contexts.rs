//! The macros where a program puts them: behind other macros, in generic and
//! async functions, in methods with `self`, nested, and with arguments that
//! move, borrow mutably or return early.

use std::fmt::Debug;

/// A program's own wrapper, passing fragments through.
macro_rules! audit {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {
        logring::warn!(target: "audit", $fmt $(, $arg)*)
    };
}

/// A wrapper that forwards everything.
macro_rules! trace_all {
    ($($t:tt)*) => {
        logring::trace!($($t)*)
    };
}

struct Account {
    id: u32,
    owner: String,
}

impl Account {
    fn log(&self) {
        logring::info!("{self:?} of {}", self.owner);
        logring::info!("account {}", self.id);
    }
}

impl Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account({})", self.id)
    }
}

fn generic<T: Debug, U: std::fmt::Display + ?Sized>(value: T, label: &U) {
    logring::debug!("{label}: {value:?}");
}

fn early(values: &[u32]) -> Option<u32> {
    logring::info!("first {}", values.first()?);
    Some(values[0])
}

async fn fetch() -> u32 {
    7
}

async fn in_async() {
    logring::info!("fetched {}", fetch().await);
}

fn consume(s: String) -> usize {
    s.len()
}

fn main() {
    let id = 42u64;
    audit!("order {} audited", id);
    audit!("order {id} audited");
    audit!("plain");
    trace_all!(target: "all", "order {id:>6} at {:.1}", 101.25f64);

    let account = Account { id: 1, owner: "ann".into() };
    account.log();
    generic(Some(3), "maybe");
    generic([1u8], &String::from("array"));
    assert_eq!(early(&[]), None);
    assert_eq!(early(&[5]), Some(5));

    // A moved argument (moved once: the check never runs).
    let owned = String::from("moved");
    logring::info!("length {}", consume(owned));

    // A mutable borrow.
    let mut stack = vec![1, 2, 3];
    logring::info!("popped {:?}", stack.pop());
    assert_eq!(stack, [1, 2]);

    // Nested: a log call inside an argument.
    logring::info!("outer {}", {
        logring::info!("inner");
        1
    });

    // In a closure, and in a loop with `break` and `continue` in arguments.
    let log_twice = |n: i32| logring::info!("closure {n} {}", n * 2);
    log_twice(4);
    for i in 0..3 {
        logring::info!("{}", if i == 1 { continue } else { i });
    }

    // Every integer and float width, chars, bools, byte strings, `&&str`.
    let s: &&str = &"nested";
    logring::info!(
        "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {:?} {:?} {:?} {}",
        1u8, 2u16, 3u32, 4u64, 5u128, 6usize, -1i8, -2i16, -3i32, -4i64, -5i128, -6isize,
        1.5f32, 2.5f64, 'c', b"bytes", &[1u8, 2][..], vec![3u8], s,
    );

    // An async function's future, polled by hand to the end.
    let mut future = std::pin::pin!(in_async());
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    assert!(future.as_mut().poll(&mut context).is_ready());
}
