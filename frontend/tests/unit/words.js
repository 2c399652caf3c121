// The English catalogue, to read what the store keeps as {key, params} the way the page does.
import { createCatalogue } from '../../src/i18n/index.js'

export const catalogue = () => createCatalogue('en')
const { t } = catalogue().global

export const say = (line) => t(line.key, line.params, line.params?.n ?? 1)
export { t }
