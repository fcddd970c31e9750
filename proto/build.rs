//! Generates the Rust types and gRPC stubs from `proto/murmur/**.proto` into OUT_DIR,
//! with a descriptor set for server reflection. protoc comes vendored from crates.io
//! (`protoc-bin-vendored`) unless `PROTOC` is set, so no manual install step is needed.

use std::path::PathBuf;

const PROTO_FILES: &[&str] = &[
    "murmur/events/v1/post.proto",
    "murmur/events/v1/scored_post.proto",
    "murmur/events/v1/alert.proto",
    "murmur/api/v1/source.proto",
    "murmur/api/v1/sentiment.proto",
    "murmur/api/v1/insights.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        let protoc_path = protoc_bin_vendored::protoc_bin_path()?;
        // Build scripts are single-threaded, so setting the variable here is race-free.
        std::env::set_var("PROTOC", protoc_path);
    }
    let include_dir = protoc_bin_vendored::include_path()?;
    let include_dir = include_dir.to_str().ok_or("protoc include path is not UTF-8")?.to_string();
    let include_dirs = [".", include_dir.as_str()];
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("murmur_descriptor.bin");

    for proto_file in PROTO_FILES {
        println!("cargo:rerun-if-changed={proto_file}");
    }
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .build_client(true)
        .build_server(true)
        .compile_protos(PROTO_FILES, &include_dirs)?;
    Ok(())
}
