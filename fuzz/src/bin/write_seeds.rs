//! Writes the seed corpus (`fuzz/src/seeds.rs`) into the folder given, by
//! default `seeds` (run from `fuzz/`): `scripts/fuzz.sh --write-seeds`.

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "seeds".to_owned());
    let written = toestemming_fuzz::seeds::write(std::path::Path::new(&dir))
        .unwrap_or_else(|error| panic!("cannot write the seeds into {dir}: {error}"));
    println!("wrote {written} seeds into {dir}/<target>/");
}
