#include "client/local_service.h"

namespace assent::client {

Reply<std::unique_ptr<Service>> OpenLocalService(const std::string& data_dir,
                                                 const std::string& token) {
  (void)data_dir;
  (void)token;
  ServiceError e;
  e.kind = ServiceError::Kind::kLocal;
  e.name = "standalone_unavailable";
  e.message = "this build has no engine yet; use client mode (`assent daemon start`)";
  return e;
}

}  // namespace assent::client
