/* Undoes _simd_isa.h. */
#undef LK_TARGET
#undef LK_FMA
#undef LK_FMA_EXACT
#undef LK_FMAF
#undef LK_FMAF_EXACT
#undef LK_WIDEN_F8
#undef LK_NARROW_D
#undef LK_MAXF
#undef LK_MAXD
#undef LK_MINF
#undef LK_LOADF
#undef LK_ROWS_TO_LANESF
#undef LK_LANES_TO_ROWSF
#undef LK_ROWS_TO_LANESD
#undef LK_LANES_TO_ROWSD
#undef LK_F4_TO_D
#undef LK_D_TO_F4
