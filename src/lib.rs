pub mod proto {
    pub mod toestemming {
        pub mod auth { pub mod v1 { tonic::include_proto!("toestemming.auth.v1"); } }
    }
}
