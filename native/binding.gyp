{
  "targets": [
    {
      "target_name": "vbm_kernel",
      "sources": ["vbm_kernel.c", "vbm_tfce.c", "vbm_fit.c", "vbm_map.c", "vbm_pieces.c", "vbm_pieces_avx2.c", "vbm_post.c", "vbm_write.c", "vbm_async.c", "vbm_memory.c"],
      "libraries": ["-lm"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math"]
    }
  ]
}
