//! `wasm-bindgen`, as much of it as this project's build uses: `--target web` glue for one module.
//!
//! The official CLI is normally installed with `cargo install wasm-bindgen-cli`, which resolves its own dependencies
//! at install time (or, with `--locked`, pins them to versions a mirror may not serve). Built from this workspace
//! instead, every dependency comes from our Cargo.lock, and the tool is rebuilt on any machine like the rest of the
//! workspace. It answers `--version` like the official CLI, so wasm-pack (`--mode no-install`) accepts it on PATH.
use std::path::PathBuf;
use std::process::ExitCode;

use wasm_bindgen_cli_support::Bindgen;

/// This package's version is the wasm-bindgen version it wraps (see its Cargo.toml).
const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Args {
    input: PathBuf,
    out_dir: PathBuf,
    out_name: Option<String>,
    typescript: bool,
    debug: bool,
    keep_debug: bool,
}

fn usage() -> String {
    "usage: wasm-bindgen INPUT.wasm --target web --out-dir DIR [--out-name NAME] [--no-typescript] [--debug] [--keep-debug]".into()
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut input, mut out_dir, mut out_name) = (None, None, None);
    let (mut typescript, mut debug, mut keep_debug) = (true, false, false);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value\n{}", usage()));
        match a.as_str() {
            "--version" | "-V" => return Ok(None),
            "--target" => {
                let t = value("--target")?;
                if t != "web" {
                    return Err(format!("only --target web is supported, got {t}"));
                }
            }
            "--out-dir" => out_dir = Some(PathBuf::from(value("--out-dir")?)),
            "--out-name" => out_name = Some(value("--out-name")?),
            "--typescript" => typescript = true,
            "--no-typescript" => typescript = false,
            "--debug" => debug = true,
            "--keep-debug" => keep_debug = true,
            // Accepted for compatibility: implied or runtime-detected in this version of wasm-bindgen.
            "--web" | "--weak-refs" | "--reference-types" => {}
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{}", usage())),
            s => {
                if input.replace(PathBuf::from(s)).is_some() {
                    return Err(format!("more than one input file\n{}", usage()));
                }
            }
        }
    }
    let input = input.ok_or_else(usage)?;
    let out_dir = out_dir.ok_or_else(usage)?;
    Ok(Some(Args { input, out_dir, out_name, typescript, debug, keep_debug }))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("wasm-bindgen {VERSION}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut b = Bindgen::new();
    // The official CLI's defaults where the library's differ: it writes a default module URL into the glue.
    b.input_path(&args.input)
        .typescript(args.typescript)
        .debug(args.debug)
        .keep_debug(args.keep_debug)
        .omit_default_module_path(false);
    if let Some(name) = &args.out_name {
        b.out_name(name);
    }
    let result = b.web(true).and_then(|b| b.generate(&args.out_dir));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:?}");
            ExitCode::FAILURE
        }
    }
}
