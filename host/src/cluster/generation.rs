//! The group generation this host's member belongs to: the broker bumps it
//! at every completed rebalance, so hosts that report the same generation
//! agree on one assignment. rust-rdkafka does not wrap the getter, so this
//! reads it through librdkafka's C API.

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

/// This member's generation, or `None` while it has not joined (librdkafka
/// reports -1 then).
pub fn of<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> Option<i32> {
    // SAFETY: the client pointer is valid for the consumer's lifetime; the
    // metadata object returned is owned here and destroyed before return.
    let generation = unsafe {
        let cgmd = rd::rd_kafka_consumer_group_metadata(consumer.client().native_ptr());
        if cgmd.is_null() {
            return None;
        }
        let g = rd::rd_kafka_consumer_group_metadata_generation_id(cgmd);
        rd::rd_kafka_consumer_group_metadata_destroy(cgmd);
        g
    };
    (generation >= 0).then_some(generation)
}
