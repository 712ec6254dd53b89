//! Embeds every `sql/*.sql` file (sorted by name) into maef-api, so `maef-api migrate`
//! reloads the SQL API without reading the source tree at run time, and adding a SQL
//! file needs no Rust change.

use std::{env, fs, path::PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let sql_dir = root.join("sql");
    println!("cargo:rerun-if-changed={}", sql_dir.display());
    // refinery's embed_migrations! reads this directory at compile time.
    println!("cargo:rerun-if-changed={}", root.join("migrations").display());

    let mut files: Vec<PathBuf> = fs::read_dir(&sql_dir)
        .expect("sql/ directory")
        .map(|e| e.expect("sql/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// `sql/*.sql` in load order: (file name, contents).\npub const SQL_FILES: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        let abs = path.canonicalize().unwrap();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("sql_files.rs"),
        out,
    )
    .unwrap();
}
