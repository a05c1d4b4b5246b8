//! Every gRPC request message the servers accept, decoded from any bytes as
//! tonic's prost codec decodes a request body; the first byte picks the
//! message (`fuzz/src/messages.rs`, `REQUEST_MESSAGES`). A message that
//! decodes must round-trip (encode, decode, equal, same bytes), and then
//! passes through the validation its handler runs, where that validation is
//! public, checked against the reference rules.
//!
//! At start-up the target checks that its table holds the input type of
//! every RPC in the descriptor set `build.rs` compiles from `proto/`: a new
//! RPC without an entry fails the run.

#![no_main]

use libfuzzer_sys::fuzz_target;
use toestemming_fuzz::messages::{REQUEST_MESSAGES, assert_every_request_message_is_fuzzed};

fuzz_target!(
    init: {
        assert_every_request_message_is_fuzzed();
        eprintln!(
            "request_messages: {} request messages, the input of every RPC in proto/",
            REQUEST_MESSAGES.len()
        );
    },
    |data: &[u8]| {
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let message = &REQUEST_MESSAGES[usize::from(selector) % REQUEST_MESSAGES.len()];
        (message.fuzz)(body);
    }
);
