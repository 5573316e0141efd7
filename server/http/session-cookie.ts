/** The cookie that carries a dashboard user's token to /queues (bull-board), which a browser opens without headers. */
export const sessionCookieName = 'mc_session';
