/**
 * PaddleOCR (PP-OCRv4) pre- and post-processing in pure TypeScript, for
 * browsers and Node alike. No onnxruntime here: it makes input tensors and
 * reads output tensors; the caller runs the models (locally or as
 * cross-checked jobs on the network).
 *
 * @example
 * ```ts
 * const keys = parseKeys(await (await fetch('models/ocr/keys.txt')).text())
 * const lines = await readText(image, (x) => run('ocr-det', x), (x) => run('ocr-rec', x), keys)
 * console.log(lines.map((l) => l.text).join('\n'))
 * ```
 */
export * from './constants.js'
export type { Box, DetScale, OcrLine, RgbaImage } from './types.js'
export { InvalidImageError } from './errors.js'
export { checkImage, cropImage, resizeBilinear } from './image.js'
export { detPostprocess, detPreprocess, sortBoxes } from './det.js'
export type { DetInput, DetPostprocessOptions, DetPreprocessOptions } from './det.js'
export { ctcDecode, parseKeys, recPreprocess } from './rec.js'
export type { CtcDecodeOptions, CtcResult, ParseKeysOptions, RecPreprocessOptions } from './rec.js'
export { readText } from './pipeline.js'
export type { ReadTextOptions, RunModel } from './pipeline.js'
