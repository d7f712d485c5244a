//! White-box tests of the queue protocol (corrupt words, positions).
