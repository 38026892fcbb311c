import CConvKernels
import GraphIR

// CPU kernel of the op declared in GraphIR/Ops/BlockedConvolutionPool.swift (the loops are C,
// Sources/CConvKernels/conv_kernels_body.h).

extension BlockedConv2dMaxpoolOp: KernelOp {
    /// Splits (image, output-block group, pooled row) items over the pool, as blocked_conv2d
    /// splits its rows; each item writes its own pooled rows, so the result is the same at
    /// any thread count.
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], w = c.inputs[1], y = c.output
        // The convolution's own output size, before pooling.
        let stride = c.attributes[.stride] ?? [1, 1], padding = c.attributes[.padding] ?? [0, 0]
        let (sh, sw) = stride.count == 2 ? (stride[0], stride[1]) : (1, 1)
        let (ph, pw) = padding.count == 2 ? (padding[0], padding[1]) : (0, 0)
        let convHeight = (x.shape[2] + 2 * ph - w.shape[2]) / sh + 1, convWidth = (x.shape[3] + 2 * pw - w.shape[3]) / sw + 1
        let g = blockedGeometry(x: x.shape, packedWeight: w.shape, y: [y.shape[0], y.shape[1], convHeight, convWidth],
                                attributes: c.attributes)
        let (scale, shift) = blockedScaleShift(c)
        let perImage = withUnsafePointer(to: g) { gc_conv2d_maxpool_items($0) }
        let itemCost = 2 * w.count / max(w.shape[0], 1) * channelBlock * convWidth
        forEachImageItem(images: x.shape[0], perImage: perImage, grain: WorkerPool.grain(itemCost: itemCost), pool: c.pool) { _, image, items in
            withUnsafePointer(to: g) {
                gc_conv2d_maxpool($0, x.f32, w.f32, scale, shift, y.f32, image, items.lowerBound, items.upperBound)
            }
        }
    }
}
