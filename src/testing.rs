//! The one door for tests, benches and fuzz targets into a crate whose
//! modules are otherwise private: each path here is one some test, bench
//! or fuzz target uses, under the module it lives in. Not an API: hidden
//! from docs, changed whenever a test needs to.

pub mod catalog {
    pub use crate::catalog::{EventType, Metric, Naming, Operation};
}

pub mod check {
    pub use crate::check::{CheckOptions, check_http};
}

pub mod client {
    pub mod tls {
        pub use crate::client::tls::ClientTls;
    }
}

pub mod emit {
    pub use crate::emit::{
        DatasetFormat, DatasetOptions, Destination, JsonlEncoder, provenance, write_dataset,
    };

    pub mod deliver {
        pub use crate::emit::deliver::{DeliveryConfig, Encoder, Pacing, replay};
    }

    pub mod targets {
        pub mod influx {
            pub use crate::emit::targets::influx::LineEncoder;
        }
        pub mod ingest {
            pub use crate::emit::targets::ingest::{DEFAULTS, Ingest, NdjsonEncoder};
        }
        pub mod remote_write {
            pub use crate::emit::targets::remote_write::CounterEncoder;
        }
        pub mod webhook {
            pub use crate::emit::targets::webhook::{OidcServer, Signer, sign};
        }
    }
}

pub mod engine {
    pub use crate::engine::{Event, EventKind, EventStream, IdKey, Workload, expected_only};
}

pub mod model {
    pub use crate::model::{AggregateTable, Grain};
}

pub mod scenario {
    pub use crate::scenario::{Scenario, ScenarioError, load, parse, render};
}

pub mod sink {
    pub use crate::sink::{RunningSink, SinkConfig, fuzzing};
}

pub mod wire {
    pub use crate::wire::{expected_response, remote_write, write_expected};
}
