{
  "targets": [
    {
      "target_name": "vbm_kernel",
      "sources": ["vbm_kernel.c"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math"]
    }
  ]
}
