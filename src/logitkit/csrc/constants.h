/* Constants of the exp and log reductions, shared by the vector kernels and the scalar
 * double-double code. */
#ifndef LOGITKIT_CONSTANTS_H
#define LOGITKIT_CONSTANTS_H

#define LK_SHIFTER 0x1.8p52            /* adding it rounds a double to an integer in its low bits */
#define LK_LOG2E 0x1.71547652b82fep0
#define LK_LN2 0x1.62e42fefa39efp-1
#define LK_LN2_HI 0x1.62e42fefa3800p-1 /* 11 trailing zero bits: k * LN2_HI is exact for |k| < 2^11 */
#define LK_LN2_LO 0x1.ef35793c76730p-45
#define LK_LN2_HI_FD 6.93147180369123816490e-01   /* fdlibm's split: 20 trailing zero bits */
#define LK_LN2_LO_FD 1.90821492927058770002e-10
#define LK_EXP_FLOOR (-1000.0)         /* exp of anything below is 0 in double */
#define LK_EXP_FLOOR_LP (-200.0)       /* exp of anything below is 0 in float */

#endif
