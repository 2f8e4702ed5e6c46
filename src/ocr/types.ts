/** An RGBA image, row-major, 4 bytes per pixel (the layout of ImageData). */
export interface RgbaImage {
  width: number
  height: number
  data: Uint8ClampedArray
}

/** An axis-aligned box in image pixel coordinates. */
export interface Box {
  x: number
  y: number
  width: number
  height: number
  /** Mean text probability inside the box (before unclipping). */
  score: number
}

/** How a det input relates to the source image, to map boxes back. */
export interface DetScale {
  srcWidth: number
  srcHeight: number
  /** Size of the det input (and of its probability map). */
  width: number
  height: number
}

/** One recognised text line. */
export interface OcrLine {
  text: string
  /** Mean probability of the decoded characters (0 for an empty line). */
  confidence: number
  box: Box
}
