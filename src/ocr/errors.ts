import { CrosscheckError } from '../errors.js'

/** An image is malformed (size, data length) or a box falls outside it. */
export class InvalidImageError extends CrosscheckError { static override readonly name = 'InvalidImageError' }
