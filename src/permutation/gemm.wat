;; The permutation kernel's inner product, in WebAssembly SIMD (f32x4).
;;
;; pack: copy a chunk of the data (voxels v0 .. v0+c-1 of every scan; c a multiple of 8) from the
;; scan-major matrix R (row stride Vp floats) into tiles of 8 voxels, each tile holding its 8
;; voxels of scan 0, then of scan 1, ... (T[tile][i][8]). The product then reads its data
;; sequentially: in R the next scan's values are Vp floats (a page or more) away, so every load of
;; the product touched another page (a TLB miss each time) and defeated the prefetcher.
;;
;; gemm: W[r][t] = sum_i A[i][r] * T[t / 8][i][t % 8]   for rows r < m (a multiple of 4), t < c
;; A is i-major (m coefficients per scan), W has a row stride of C floats. A tile of 4 rows x 8
;; voxels is held in eight f32x4 accumulators while the loop runs over the n scans, so each value
;; of the data loaded is used four times from a register.
;;
;; scripts/assemble-wat.mjs also assembles a copy in which each multiply-add below is the fused
;; f32x4.relaxed_madd (relaxed SIMD; used where the engine accepts it, see dataMatrix.ts).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "pack")
    (param $R i32) (param $Vp i32) (param $n i32) (param $v0 i32) (param $c i32) (param $T i32)
    (local $i i32) (local $vt i32) (local $ps i32) (local $pd i32) (local $tileBytes i32)
    (local.set $tileBytes (i32.shl (local.get $n) (i32.const 5)))
    (local.set $i (i32.const 0))
    (block $idone
      (loop $iloop
        (br_if $idone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $ps (i32.add (local.get $R)
          (i32.shl (i32.add (i32.mul (local.get $i) (local.get $Vp)) (local.get $v0)) (i32.const 2))))
        (local.set $pd (i32.add (local.get $T) (i32.shl (local.get $i) (i32.const 5))))
        (local.set $vt (i32.const 0))
        (block $vdone
          (loop $vloop
            (br_if $vdone (i32.ge_u (local.get $vt) (local.get $c)))
            (v128.store (local.get $pd) (v128.load (local.get $ps)))
            (v128.store offset=16 (local.get $pd) (v128.load offset=16 (local.get $ps)))
            (local.set $ps (i32.add (local.get $ps) (i32.const 32)))
            (local.set $pd (i32.add (local.get $pd) (local.get $tileBytes)))
            (local.set $vt (i32.add (local.get $vt) (i32.const 8)))
            (br $vloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iloop))))
  (func (export "gemm")
    (param $A i32) (param $m i32) (param $T i32) (param $n i32) (param $c i32) (param $W i32) (param $C i32)
    (local $vt i32) (local $rg i32) (local $i i32) (local $pa i32) (local $pr i32) (local $pw i32)
    (local $tile i32) (local $strideA i32) (local $strideW i32)
    (local $x0 v128) (local $x1 v128) (local $a v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $strideA (i32.shl (local.get $m) (i32.const 2)))
    (local.set $strideW (i32.shl (local.get $C) (i32.const 2)))
    (local.set $vt (i32.const 0))
    (local.set $tile (local.get $T))
    (block $vdone
      (loop $vloop
        (br_if $vdone (i32.ge_u (local.get $vt) (local.get $c)))
        (local.set $rg (i32.const 0))
        (block $rdone
          (loop $rloop
            (br_if $rdone (i32.ge_u (local.get $rg) (local.get $m)))
            (local.set $c00 (v128.const i32x4 0 0 0 0))
            (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0))
            (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0))
            (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0))
            (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $pa (i32.add (local.get $A) (i32.shl (local.get $rg) (i32.const 2))))
            (local.set $pr (local.get $tile))
            (local.set $i (local.get $n))
            (block $idone
              (loop $iloop
                (br_if $idone (i32.eqz (local.get $i)))
                (local.set $x0 (v128.load (local.get $pr)))
                (local.set $x1 (v128.load offset=16 (local.get $pr)))
                (local.set $a (v128.load32_splat (local.get $pa)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $x0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $x1))))
                (local.set $a (v128.load32_splat offset=4 (local.get $pa)))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $x0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $x1))))
                (local.set $a (v128.load32_splat offset=8 (local.get $pa)))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $x0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $x1))))
                (local.set $a (v128.load32_splat offset=12 (local.get $pa)))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $x0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $x1))))
                (local.set $pr (i32.add (local.get $pr) (i32.const 32)))
                (local.set $pa (i32.add (local.get $pa) (local.get $strideA)))
                (local.set $i (i32.sub (local.get $i) (i32.const 1)))
                (br $iloop)))
            (local.set $pw (i32.add (local.get $W) (i32.shl (i32.add (i32.mul (local.get $rg) (local.get $C)) (local.get $vt)) (i32.const 2))))
            (v128.store (local.get $pw) (local.get $c00))
            (v128.store offset=16 (local.get $pw) (local.get $c01))
            (local.set $pw (i32.add (local.get $pw) (local.get $strideW)))
            (v128.store (local.get $pw) (local.get $c10))
            (v128.store offset=16 (local.get $pw) (local.get $c11))
            (local.set $pw (i32.add (local.get $pw) (local.get $strideW)))
            (v128.store (local.get $pw) (local.get $c20))
            (v128.store offset=16 (local.get $pw) (local.get $c21))
            (local.set $pw (i32.add (local.get $pw) (local.get $strideW)))
            (v128.store (local.get $pw) (local.get $c30))
            (v128.store offset=16 (local.get $pw) (local.get $c31))
            (local.set $rg (i32.add (local.get $rg) (i32.const 4)))
            (br $rloop)))
        (local.set $tile (i32.add (local.get $tile) (i32.shl (local.get $n) (i32.const 5))))
        (local.set $vt (i32.add (local.get $vt) (i32.const 8)))
        (br $vloop)))))
