/** Defaults of PaddleOCR's PP-OCRv4 inference (tools/infer/utility.py), used unless overridden. */

/** DetResizeForTest: the longer side is shrunk to at most this (never enlarged). */
export const DET_LIMIT_SIDE_LEN = 960
/** Det input sides are multiples of this (the network downsamples by 32). */
export const DET_SIZE_MULTIPLE = 32
/** ImageNet statistics, applied to channels in BGR order as PaddleOCR does (cv2 reads BGR). */
export const DET_MEAN = [0.485, 0.456, 0.406] as const
export const DET_STD = [0.229, 0.224, 0.225] as const
/** DB post-processing: pixel threshold of the probability map. */
export const DET_THRESH = 0.3
/** DB post-processing: minimum mean probability inside a box. */
export const DET_BOX_THRESH = 0.6
/**
 * DB post-processing: polygon offset ratio (distance = area * ratio / perimeter).
 * PaddleOCR 2.x uses 1.5, PaddleX (PaddleOCR 3) pipelines 2.0. With 1.5 the
 * box hugs the glyphs (about 1 px margin at 40 px text) and rec drops the word
 * spaces ("HelloONNX2026"); 2.0 leaves a margin proportional to the text height.
 */
export const DET_UNCLIP_RATIO = 2.0
/** Boxes whose short side is below this (map pixels) are dropped. */
export const DET_MIN_SIZE = 3
export const DET_MAX_CANDIDATES = 1000
/** Boxes whose tops differ by less than this (image pixels) count as one row when sorting. */
export const SAME_ROW_PX = 10

/** Rec input height; width follows the crop's aspect ratio. */
export const REC_HEIGHT = 48
/** Rec inputs are at least this wide (PaddleOCR's rec_image_shape 3,48,320); narrower crops are padded. */
export const REC_MIN_WIDTH = 320
/** Wider crops are squeezed to this width. */
export const REC_MAX_WIDTH = 2048
/** Rec widths are rounded up to a multiple of this (the model's time stride). */
export const REC_WIDTH_MULTIPLE = 8
/** CTC blank index. */
export const CTC_BLANK = 0
/** Lines recognised with a lower confidence are dropped (PaddleOCR drop_score). */
export const DROP_SCORE = 0.5

export const DET_INPUT_NAME = 'x'
export const REC_INPUT_NAME = 'x'
