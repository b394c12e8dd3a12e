export const PRODUCT = 'premigration-hooks';
export const VERSION = '0.1.0';
