//! The gallery over real HTTP (reqwest against `serve::http::app_with` on a free loopback
//! port, ModelScope and xiaohongshu simulators behind it): listing, filters and paging,
//! job detail, live events, images and cached thumbnails, actions, and the attacks a page
//! open to a network must withstand.

mod support;

mod actions;
mod attacks;
mod command;
mod events;
mod files;
mod hostile;
mod listing;
