export const mcVersion = '0.1.0';
