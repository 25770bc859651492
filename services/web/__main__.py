from services.web.config import Settings
from services.web.main import SERVICE, create_app
from shared.platform.http import run_service

if __name__ == "__main__":
    run_service(SERVICE, Settings(), create_app)
