//! The simulated storage bucket behind `output_images` URLs (contract 7).
//!
//! Each URL names a picture by what the task asked for (size, prompt, seed). The PNG is
//! encoded on the first download and kept, so repeated downloads cost nothing; only the
//! most recent encodings are kept, so a long-running simulator does not grow without end
//! (an evicted picture is simply encoded again, to the same bytes).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OnceCell;

/// How many encoded pictures stay cached.
const CACHE_CAP: usize = 512;

/// What a picture is made from.
#[derive(Clone, Debug)]
pub struct Spec {
    pub width: u32,
    pub height: u32,
    /// Passed to [`crate::picture::png`]; derived from prompt, seed and image index.
    pub key: String,
}

/// A picture to serve: its spec and the cell its encoding lands in.
#[derive(Clone, Debug)]
pub struct Picture {
    pub spec: Spec,
    pub encoded: Arc<OnceCell<Bytes>>,
}

/// All pictures, by their 32-hex name.
#[derive(Debug, Default)]
pub struct Images {
    pictures: HashMap<String, Picture>,
    encoded_order: VecDeque<String>,
}

impl Images {
    /// Registers a picture and returns its fresh 32-hex name.
    pub fn add(&mut self, spec: Spec) -> String {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let picture = Picture {
            spec,
            encoded: Arc::new(OnceCell::new()),
        };
        self.pictures.insert(name.clone(), picture);
        name
    }

    pub fn get(&self, name: &str) -> Option<Picture> {
        self.pictures.get(name).cloned()
    }

    /// Notes that `name` was just encoded, dropping the oldest encodings over the cap.
    pub fn encoded(&mut self, name: &str) {
        self.encoded_order.push_back(name.to_owned());
        while self.encoded_order.len() > CACHE_CAP {
            let Some(old) = self.encoded_order.pop_front() else {
                break;
            };
            if let Some(picture) = self.pictures.get_mut(&old) {
                picture.encoded = Arc::new(OnceCell::new());
            }
        }
    }
}
