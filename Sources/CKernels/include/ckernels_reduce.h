#ifndef CKERNELS_REDUCE_H
#define CKERNELS_REDUCE_H
#ifdef __cplusplus
extern "C" {
#endif

/// The sum of IEEE fp16 values as an MPI reduction operator (an MPI_User_function: `in`, `inout`, the element count,
/// the datatype, which is ignored and must be 2-byte elements): inout[i] = fp16(fp32(in[i]) + fp32(inout[i])), each
/// sum taken in fp32 and rounded once to nearest even (a sum past fp16's range gives infinity). Commutative.
void ck_sum_f16_op(void *in, void *inout, int *count, void *datatype);

#ifdef __cplusplus
}
#endif
#endif
