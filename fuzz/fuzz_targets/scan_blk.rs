//! Any bytes as a block file: scanning returns an error or blocks located inside the file.
#![no_main]
use fundtrace_bitcoin::blkfile::BlockFiles;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ft-fuzz-scan-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("blk00000.dat");
    std::fs::write(&path, data).unwrap();
    let files = BlockFiles::open_files(vec![path], None).unwrap();
    if let Ok((_, blocks, _)) = files.scan() {
        for b in blocks {
            assert!(b.location.offset as usize + b.location.size as usize <= data.len());
            let _ = files.block(b.location);
        }
    }
});
