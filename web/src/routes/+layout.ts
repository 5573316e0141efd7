// A client-rendered single-page app: the server serves 200.html for every dashboard route.
export const ssr = false;
export const prerender = false;
export const trailingSlash = 'never';
