;; The fit's streaming sums (accumulate.ts addScans) in WebAssembly SIMD, two voxels per f64x2.
;;
;; For one scan and the candidate voxels c0 <= c < c1, with v = data[cand[c]] * scale (float64):
;;   ok[c] = 0 unless v > thr (and v != 0 when zero means missing); vmin/vmax (float32) updated;
;;   yy[c] += v*v; for each design term j with x_j != 0: xty[j][c] += x_j * v;
;;   for a residual-subset scan also the seven neighbour products ryy[k][c] and rxty[j][c].
;; Every sum is updated with the same IEEE float64 operations, in the same order of scans, as the
;; JavaScript kernel (no fused multiply-add), so the sums are the same bits. Only the per-scan
;; counts' sum of values (stats, used for the scans' means) is added in two lanes.
;;
;; Layout (set by init): cand, nbx, nby, nbz are i32 per voxel (neighbour index, -1 off the grid),
;; ok u8, vmin/vmax f32, yy f64 per voxel; ryy is 7 rows of `stride` bytes; the number of voxels is
;; padded to even (the pad voxel's sums are never read back; its counts are masked out). `nan` is
;; the address of a float32 NaN, read for neighbours off the grid.
;; A term is 16 bytes: i32 address of its xty row, i32 address of its rxty row, f64 coefficient.
;; stats (per call, added to): f64 removed, nonZero, finite, sum.
(module
  (import "env" "memory" (memory 1 65536))
  (global $cand (mut i32) (i32.const 0))
  (global $nbx (mut i32) (i32.const 0))
  (global $nby (mut i32) (i32.const 0))
  (global $nbz (mut i32) (i32.const 0))
  (global $ok (mut i32) (i32.const 0))
  (global $vmin (mut i32) (i32.const 0))
  (global $vmax (mut i32) (i32.const 0))
  (global $yy (mut i32) (i32.const 0))
  (global $ryy (mut i32) (i32.const 0))
  (global $stride (mut i32) (i32.const 0))
  (global $nan (mut i32) (i32.const 0))
  (func (export "init")
    (param $cand i32) (param $nbx i32) (param $nby i32) (param $nbz i32) (param $ok i32)
    (param $vmin i32) (param $vmax i32) (param $yy i32) (param $ryy i32) (param $stride i32) (param $nan i32)
    (global.set $cand (local.get $cand))
    (global.set $nbx (local.get $nbx))
    (global.set $nby (local.get $nby))
    (global.set $nbz (local.get $nbz))
    (global.set $ok (local.get $ok))
    (global.set $vmin (local.get $vmin))
    (global.set $vmax (local.get $vmax))
    (global.set $yy (local.get $yy))
    (global.set $ryy (local.get $ryy))
    (global.set $stride (local.get $stride))
    (global.set $nan (local.get $nan)))

  ;; a residual-subset scan's neighbour products and X_S'y for voxels c, c+1 (value pair $v);
  ;; everything written out (no calls: V8 in Node 20 does not inline WebAssembly calls)
  (func $residual (param $c i32) (param $data i32) (param $sc v128) (param $v v128) (param $terms i32) (param $tend i32)
    (local $gx v128) (local $gy v128) (local $gz v128) (local $o8 i32) (local $s i32) (local $r i32) (local $p i32)
    (local $q i32) (local $j0 i32) (local $j1 i32)
    (local.set $q (i32.add (global.get $nbx) (i32.shl (local.get $c) (i32.const 2))))
    (local.set $j0 (i32.load (local.get $q)))
    (local.set $j1 (i32.load offset=4 (local.get $q)))
    (local.set $gx
      (f64x2.mul
        (f64x2.promote_low_f32x4
          (v128.load32_lane 1
            (select
              (i32.add (local.get $data) (i32.shl (local.get $j1) (i32.const 2)))
              (global.get $nan)
              (i32.ge_s (local.get $j1) (i32.const 0)))
            (v128.load32_zero
              (select
                (i32.add (local.get $data) (i32.shl (local.get $j0) (i32.const 2)))
                (global.get $nan)
                (i32.ge_s (local.get $j0) (i32.const 0))))))
        (local.get $sc)))
    (local.set $q (i32.add (global.get $nby) (i32.shl (local.get $c) (i32.const 2))))
    (local.set $j0 (i32.load (local.get $q)))
    (local.set $j1 (i32.load offset=4 (local.get $q)))
    (local.set $gy
      (f64x2.mul
        (f64x2.promote_low_f32x4
          (v128.load32_lane 1
            (select
              (i32.add (local.get $data) (i32.shl (local.get $j1) (i32.const 2)))
              (global.get $nan)
              (i32.ge_s (local.get $j1) (i32.const 0)))
            (v128.load32_zero
              (select
                (i32.add (local.get $data) (i32.shl (local.get $j0) (i32.const 2)))
                (global.get $nan)
                (i32.ge_s (local.get $j0) (i32.const 0))))))
        (local.get $sc)))
    (local.set $q (i32.add (global.get $nbz) (i32.shl (local.get $c) (i32.const 2))))
    (local.set $j0 (i32.load (local.get $q)))
    (local.set $j1 (i32.load offset=4 (local.get $q)))
    (local.set $gz
      (f64x2.mul
        (f64x2.promote_low_f32x4
          (v128.load32_lane 1
            (select
              (i32.add (local.get $data) (i32.shl (local.get $j1) (i32.const 2)))
              (global.get $nan)
              (i32.ge_s (local.get $j1) (i32.const 0)))
            (v128.load32_zero
              (select
                (i32.add (local.get $data) (i32.shl (local.get $j0) (i32.const 2)))
                (global.get $nan)
                (i32.ge_s (local.get $j0) (i32.const 0))))))
        (local.get $sc)))
    (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
    (local.set $s (global.get $stride))
    (local.set $r (global.get $ryy))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $v) (local.get $v))))
    (local.set $r (i32.add (local.get $r) (local.get $s)))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $v) (local.get $gx))))
    (local.set $r (i32.add (local.get $r) (local.get $s)))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $v) (local.get $gy))))
    (local.set $r (i32.add (local.get $r) (local.get $s)))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $v) (local.get $gz))))
    (local.set $r (i32.add (local.get $r) (local.get $s)))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $gx) (local.get $gy))))
    (local.set $r (i32.add (local.get $r) (local.get $s)))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $gx) (local.get $gz))))
    (local.set $r (i32.add (local.get $r) (local.get $s)))
    (local.set $q (i32.add (local.get $r) (local.get $o8)))
    (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $gy) (local.get $gz))))
    (local.set $p (local.get $terms))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $tend)))
        (local.set $q (i32.add (i32.load offset=4 (local.get $p)) (local.get $o8)))
        (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (v128.load64_splat offset=8 (local.get $p)) (local.get $v))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $next))))

  (func (export "scan")
    (param $c0 i32) (param $c1 i32) (param $data i32) (param $scale f64) (param $thr f64) (param $zim i32)
    (param $terms i32) (param $nterms i32) (param $resid i32) (param $stats i32)
    (local $c i32) (local $p i32) (local $q i32) (local $o8 i32) (local $tend i32)
    (local $sc v128) (local $th v128) (local $zimv v128) (local $zero v128) (local $all v128) (local $lo v128)
    (local $vm v128) (local $v v128) (local $keep v128) (local $fin v128) (local $m v128)
    (local $nrm v128) (local $nnz v128) (local $nfin v128) (local $sum v128)
    (local.set $sc (f64x2.splat (local.get $scale)))
    (local.set $th (f64x2.splat (local.get $thr)))
    (local.set $zimv (i64x2.splat (i64.extend_i32_s (i32.sub (i32.const 0) (i32.ne (local.get $zim) (i32.const 0))))))
    (local.set $zero (v128.const i64x2 0 0))
    (local.set $all (v128.const i64x2 -1 -1))
    (local.set $lo (v128.const i64x2 -1 0))
    (local.set $nrm (local.get $zero))
    (local.set $nnz (local.get $zero))
    (local.set $nfin (local.get $zero))
    (local.set $sum (local.get $zero))
    (local.set $tend (i32.add (local.get $terms) (i32.shl (local.get $nterms) (i32.const 4))))
    (local.set $c (local.get $c0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $c1)))
        ;; lane 1 counts only when voxel c+1 is in range (the pad voxel otherwise)
        (local.set $vm
          (select (result v128) (local.get $all) (local.get $lo)
            (i32.lt_u (i32.add (local.get $c) (i32.const 1)) (local.get $c1))))
        (local.set $p (i32.add (global.get $cand) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $v
          (f64x2.mul
            (f64x2.promote_low_f32x4
              (v128.load32_lane 1
                (i32.add (local.get $data) (i32.shl (i32.load offset=4 (local.get $p)) (i32.const 2)))
                (v128.load32_zero (i32.add (local.get $data) (i32.shl (i32.load (local.get $p)) (i32.const 2))))))
            (local.get $sc)))
        ;; masking: kept while v > thr (never NaN), and not zero when zero means missing
        (local.set $keep
          (v128.andnot
            (f64x2.gt (local.get $v) (local.get $th))
            (v128.and (local.get $zimv) (f64x2.eq (local.get $v) (local.get $zero)))))
        (local.set $p (i32.add (global.get $ok) (local.get $c)))
        (v128.store16_lane 0 (local.get $p)
          (v128.and
            (v128.load16_lane 0 (local.get $p) (local.get $zero))
            (i8x16.shuffle 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $keep) (local.get $keep))))
        (local.set $nrm (i64x2.sub (local.get $nrm) (v128.andnot (local.get $vm) (local.get $keep))))
        (local.set $nnz (i64x2.sub (local.get $nnz) (v128.and (local.get $vm) (f64x2.ne (local.get $v) (local.get $zero)))))
        (local.set $fin (v128.and (local.get $vm) (f64x2.eq (f64x2.sub (local.get $v) (local.get $v)) (local.get $zero))))
        (local.set $nfin (i64x2.sub (local.get $nfin) (local.get $fin)))
        (local.set $sum (f64x2.add (local.get $sum) (v128.and (local.get $v) (local.get $fin))))
        ;; extremes, kept as float32 (compared in float64, as the JavaScript kernel does)
        (local.set $p (i32.add (global.get $vmin) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $m (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (v128.store64_lane 0 (local.get $p)
          (f32x4.demote_f64x2_zero (v128.bitselect (local.get $v) (local.get $m) (f64x2.lt (local.get $v) (local.get $m)))))
        (local.set $p (i32.add (global.get $vmax) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $m (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (v128.store64_lane 0 (local.get $p)
          (f32x4.demote_f64x2_zero (v128.bitselect (local.get $v) (local.get $m) (f64x2.gt (local.get $v) (local.get $m)))))
        ;; y'y and X'y
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $p (i32.add (global.get $yy) (local.get $o8)))
        (v128.store (local.get $p) (f64x2.add (v128.load (local.get $p)) (f64x2.mul (local.get $v) (local.get $v))))
        (local.set $p (local.get $terms))
        (block $tdone
          (loop $tnext
            (br_if $tdone (i32.ge_u (local.get $p) (local.get $tend)))
            (local.set $q (i32.add (i32.load (local.get $p)) (local.get $o8)))
            (v128.store (local.get $q)
              (f64x2.add (v128.load (local.get $q)) (f64x2.mul (v128.load64_splat offset=8 (local.get $p)) (local.get $v))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $tnext)))
        (if (local.get $resid)
          (then (call $residual (local.get $c) (local.get $data) (local.get $sc) (local.get $v) (local.get $terms) (local.get $tend))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $next)))
    ;; the counts of this call, added to stats
    (f64.store (local.get $stats)
      (f64.add (f64.load (local.get $stats))
        (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $nrm)) (i64x2.extract_lane 1 (local.get $nrm))))))
    (f64.store offset=8 (local.get $stats)
      (f64.add (f64.load offset=8 (local.get $stats))
        (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $nnz)) (i64x2.extract_lane 1 (local.get $nnz))))))
    (f64.store offset=16 (local.get $stats)
      (f64.add (f64.load offset=16 (local.get $stats))
        (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $nfin)) (i64x2.extract_lane 1 (local.get $nfin))))))
    (f64.store offset=24 (local.get $stats)
      (f64.add (f64.load offset=24 (local.get $stats))
        (f64.add (f64x2.extract_lane 0 (local.get $sum)) (f64x2.extract_lane 1 (local.get $sum))))))
)
